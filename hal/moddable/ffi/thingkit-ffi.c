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
