/*
 * ESP-IDF calls that thingkit's HAL needs and the Moddable SDK has no module for, exposed to
 * JavaScript with XS FFI (documentation/xs/XS FFI.md). manifest.json's "ffi" section declares
 * each signature; hal/moddable/types/mc-ffi.d.ts types them for TypeScript; hal/moddable/
 * native.ts creates the FFI object.
 */
#include <stdint.h>
#include <stddef.h>

#include "esp_system.h"
#include "esp_ota_ops.h"
#include "esp_partition.h"
/* ESP-IDF 5 moved these declarations out of esp_system.h. */
#if __has_include("esp_mac.h")
#include "esp_mac.h"
#endif
#if __has_include("esp_random.h")
#include "esp_random.h"
#endif
/* esp_image_verify (bootloader_support); without it complete() relies on esp_ota_set_boot_partition's own check. */
#if __has_include("esp_image_format.h")
#include "esp_image_format.h"
#define THINGKIT_HAS_IMAGE_VERIFY 1
#endif

int32_t thingkit_reset_reason(void)
{
	return (int32_t)esp_reset_reason();
}

uint32_t thingkit_free_heap(void)
{
	return (uint32_t)esp_get_free_heap_size();
}

void thingkit_fill_random(uint8_t *buffer, uint32_t offset, uint32_t length)
{
	if (buffer && length)
		esp_fill_random(buffer + offset, length);
}

const char *thingkit_running_partition(void)
{
	const esp_partition_t *partition = esp_ota_get_running_partition();
	return partition ? partition->label : "";
}

const char *thingkit_next_update_partition(void)
{
	const esp_partition_t *partition = esp_ota_get_next_update_partition(NULL);
	return partition ? partition->label : "";
}

int32_t thingkit_factory_mac(uint8_t *buffer)
{
	return (int32_t)esp_efuse_mac_get_default(buffer);
}

int32_t thingkit_mark_app_valid(void)
{
	return (int32_t)esp_ota_mark_app_valid_cancel_rollback();
}

/* The running image's esp_ota_img_states_t, or -1 when it has none (factory app, no otadata entry). */
int32_t thingkit_ota_running_state(void)
{
	const esp_partition_t *running = esp_ota_get_running_partition();
	esp_ota_img_states_t state;
	if (!running || esp_ota_get_state_partition(running, &state) != ESP_OK)
		return -1;
	return (int32_t)state;
}

/*
 * The next OTA slot holds a complete image of byteLength bytes: check it (esp_image_verify:
 * magic, chip, segments, checksum, appended SHA-256; and its length), then make it the boot
 * slot (esp_ota_set_boot_partition verifies again and writes otadata, state new).
 * 0 or an esp_err_t; ESP_ERR_INVALID_SIZE when the image's length is not byteLength.
 */
int32_t thingkit_ota_activate_next(uint32_t byteLength)
{
	const esp_partition_t *partition = esp_ota_get_next_update_partition(NULL);
	if (!partition)
		return (int32_t)ESP_ERR_NOT_FOUND;
	if (byteLength == 0 || byteLength > partition->size)
		return (int32_t)ESP_ERR_INVALID_SIZE;
#ifdef THINGKIT_HAS_IMAGE_VERIFY
	esp_partition_pos_t position = { .offset = partition->address, .size = partition->size };
	esp_image_metadata_t metadata;
	esp_err_t verified = esp_image_verify(ESP_IMAGE_VERIFY, &position, &metadata);
	if (verified != ESP_OK)
		return (int32_t)ESP_ERR_OTA_VALIDATE_FAILED;
	if (metadata.image_len != byteLength)
		return (int32_t)ESP_ERR_INVALID_SIZE;
#endif
	return (int32_t)esp_ota_set_boot_partition(partition);
}

/* Marks the running image invalid and restarts into the previous one; returns only on failure. */
int32_t thingkit_ota_rollback(void)
{
	return (int32_t)esp_ota_mark_app_invalid_rollback_and_reboot();
}
