/**
 * Persistent settings over Moddable's `preference` module (documentation/files/files.md
 * "Preference"), which on ESP32 is ESP-IDF NVS. `checkKvEntry` (hal/kv.ts) checks the limits
 * host and device share first; two more limits of the ESP32 implementation
 * (modules/files/preference/esp32/modPreference.c) are checked here because the device would
 * otherwise corrupt or refuse the value: numbers are stored as int32 (`nvs_set_i32`), and an
 * NVS string holds at most 4000 bytes *including* its NUL terminator. Binary values go to
 * NVS as blobs and must be handed over as ArrayBuffers.
 */
import Preference from "preference";
import { checkKvEntry, KvError, KV_MAX_VALUE_BYTES, type KeyValue, type KvValue } from "../kv";
import { utf8ByteLength } from "./text";

const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class ModdableKeyValue implements KeyValue {
  get(domain: string, key: string): KvValue | undefined {
    let value: string | boolean | number | ArrayBuffer | undefined;
    try {
      value = Preference.get(domain, key);
    } catch (error) {
      throw new KvError(`reading ${domain}/${key} failed: ${messageOf(error)}`);
    }
    return value instanceof ArrayBuffer ? new Uint8Array(value) : value;
  }

  set(domain: string, key: string, value: KvValue): void {
    checkKvEntry(domain, key, value, utf8ByteLength);
    if (typeof value === "number" && (value < INT32_MIN || value > INT32_MAX)) {
      throw new KvError(`KV value for ${domain}/${key} is ${value}: ESP32 NVS stores 32-bit integers; store it as a string`);
    }
    if (typeof value === "string" && utf8ByteLength(value) > KV_MAX_VALUE_BYTES - 1) {
      throw new KvError(`KV value for ${domain}/${key} is a ${utf8ByteLength(value)}-byte string; NVS strings hold at most ${KV_MAX_VALUE_BYTES - 1} bytes (plus the terminator)`);
    }
    const stored = value instanceof Uint8Array ? value.slice().buffer : value;
    try {
      Preference.set(domain, key, stored);
    } catch (error) {
      throw new KvError(`storing ${domain}/${key} failed (NVS full or worn?): ${messageOf(error)}`);
    }
  }

  delete(domain: string, key: string): void {
    try {
      Preference.delete(domain, key);
    } catch (error) {
      throw new KvError(`deleting ${domain}/${key} failed: ${messageOf(error)}`);
    }
  }

  keys(domain: string): string[] {
    try {
      return Preference.keys(domain);
    } catch (error) {
      throw new KvError(`listing ${domain} failed: ${messageOf(error)}`);
    }
  }
}
