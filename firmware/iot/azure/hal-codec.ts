/** The Azure cores' codec over the HAL: UTF-8 and base64 from `hal.text`, HMAC-SHA256 from `hal.crypto`. */
import type { Hal } from '../../../hal';
import type { AzureCodec } from './types';

export function halCodec(hal: Pick<Hal, 'text' | 'crypto'>): AzureCodec {
  return {
    utf8Encode: (text) => hal.text.encode(text),
    utf8Decode: (bytes) => hal.text.decode(bytes),
    toBase64: (bytes) => hal.text.toBase64(bytes),
    fromBase64: (text) => hal.text.fromBase64(text),
    hmacSha256: (key, data) => hal.crypto.hmacSha256(key, data),
  };
}
