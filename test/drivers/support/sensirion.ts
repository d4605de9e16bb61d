/** Reading the answers of the Sensirion chip models (SHT31, SHT40, SCD41) in tests. */
import { sensirionCrc8 } from '../../../firmware/drivers/sht3x/crc8';

/** The 16-bit words of an answer (each MSB first and followed by its CRC); every CRC must match the firmware's CRC-8. */
export function words(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 2 < bytes.length; i += 3) {
    expect(sensirionCrc8(bytes, i, 2)).toBe(bytes[i + 2]);
    out.push((bytes[i] << 8) | bytes[i + 1]);
  }
  return out;
}
