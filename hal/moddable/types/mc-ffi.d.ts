/*
 * XS FFI (documentation/xs/XS FFI.md): `new FFI` from "mc/ffi" is an object with one method
 * per function the manifest's "ffi" section describes. These are the functions thingkit's
 * manifest declares; their C is hal/moddable/ffi/thingkit-ffi.c.
 */
declare module "mc/ffi" {
  export default class FFI {
    constructor();
    /** esp_reset_reason(): an esp_reset_reason_t value. */
    thingkit_reset_reason(): number;
    /** esp_get_free_heap_size(): free bytes in the ESP-IDF heap. */
    thingkit_free_heap(): number;
    /** esp_fill_random() into `buffer` at `offset` for `length` bytes. */
    thingkit_fill_random(buffer: ArrayBuffer, offset: number, length: number): void;
    /** The label of the app partition running now (esp_ota_get_running_partition). */
    thingkit_running_partition(): string;
    /** The label of the next OTA slot (esp_ota_get_next_update_partition), or "". */
    thingkit_next_update_partition(): string;
    /** esp_efuse_mac_get_default() into `buffer` (6 bytes): the factory MAC; 0 or an esp_err_t. */
    thingkit_factory_mac(buffer: ArrayBuffer): number;
    /** esp_ota_mark_app_valid_cancel_rollback(): 0 (ESP_OK) or an esp_err_t. */
    thingkit_mark_app_valid(): number;
    /** esp_ota_get_state_partition(running): an esp_ota_img_states_t, or -1 when the image has no state. */
    thingkit_ota_running_state(): number;
    /** Verifies the next OTA slot's image (esp_image_verify, length `byteLength`) and makes it the boot slot: 0 or an esp_err_t. */
    thingkit_ota_activate_next(byteLength: number): number;
    /** esp_ota_mark_app_invalid_rollback_and_reboot(): restarts; returns (an esp_err_t) only on failure. */
    thingkit_ota_rollback(): number;
  }
}
