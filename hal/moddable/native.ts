/**
 * The few ESP-IDF calls Moddable has no JavaScript module for, reached through XS FFI
 * (documentation/xs/XS FFI.md): manifest.json's "ffi" section describes them and
 * hal/moddable/ffi/thingkit-ffi.c implements them. The FFI object is created on first use,
 * not when the module loads, so this module stays safe to load anywhere.
 */
import FFI from "mc/ffi";

let calls: FFI | undefined;

export function nativeCalls(): FFI {
  calls ??= new FFI();
  return calls;
}
