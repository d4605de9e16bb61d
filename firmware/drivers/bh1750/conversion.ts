/**
 * Count to lux, "BH1750FVI Technical Note" (ROHM, 2009.04 Rev.B):
 *   p.10 (Read Format example): lx = count / 1.2, at the default MTreg of 69;
 *     e.g. high byte 1000_0011, low byte 1001_0000 → (2^15 + 2^9 + 2^8 + 2^7 + 2^4) / 1.2 ≈ 28067 lx.
 *   p.11 (sensitivity adjustment): at another MTreg, lx = count / 1.2 × (69 / MTreg); in
 *     H-resolution mode2 the count is doubled (0.5 lx resolution), so divide by 2 as well.
 * 1.2 is the typical "measurement accuracy" (sensor out / actual lx, p.2: 0.96…1.44).
 */
import type { BH1750Resolution } from './commands';
import { MTREG_DEFAULT } from './commands';

export const COUNTS_PER_LUX = 1.2;

export function illuminanceFromCount(count: number, mtreg = MTREG_DEFAULT, resolution: BH1750Resolution = 'high'): number {
  const lux = (count / COUNTS_PER_LUX) * (MTREG_DEFAULT / mtreg);
  return resolution === 'high2' ? lux / 2 : lux;
}
