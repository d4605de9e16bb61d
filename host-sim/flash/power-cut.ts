/**
 * Power loss in the middle of a flash operation, for crash-consistency tests. A NOR chip that
 * loses power mid-operation leaves it torn: an interrupted erase has set only part of its
 * sector to 0xFF, an interrupted write has programmed only its first bytes. The model: a
 * prefix of the operation's bytes took effect, the rest did not.
 */
import type { FlashImage, FlashMutation } from './flash-image';

/**
 * Thrown out of a flash write or erase when the simulated power fails. Deliberately not a
 * FlashError: firmware that handles flash errors must not swallow the end of its world.
 */
export class PowerCutError extends Error {
  constructor(
    readonly op: FlashMutation,
    /** How many of the operation's first bytes took effect (FlashImage clamps it). */
    readonly completedBytes: number,
  ) {
    super(`Simulated power cut during flash ${op.kind} at 0x${op.offset.toString(16)} after ${completedBytes} of ${op.length} bytes`);
    this.name = 'PowerCutError';
  }
}

export interface ArmedPowerCut {
  /** Whether the power has been cut yet. */
  readonly fired: boolean;
  /** Removes the hook (power restored without a reboot: only for tests that never fire). */
  disarm(): void;
}

/**
 * Cuts the power during the `mutationIndex`-th write or erase from now (0 = the next one),
 * tearing it at a random byte (`random` returns [0, 1), Math.random by default). After the
 * cut every further write or erase throws too, with nothing applied, as on a dead device;
 * close the image and open it again to "reboot".
 */
export function armPowerCut(
  image: FlashImage,
  mutationIndex: number,
  random: () => number = Math.random,
  /** Counts only the operations this accepts (e.g. writes into one partition); default all. */
  counts: (op: FlashMutation) => boolean = () => true,
): ArmedPowerCut {
  let seen = 0;
  let fired = false;
  const hook = (op: FlashMutation): void => {
    if (fired) throw new PowerCutError(op, 0);
    if (!counts(op) || seen++ < mutationIndex) return;
    fired = true;
    throw new PowerCutError(op, Math.floor(random() * op.length));
  };
  image.onBeforeMutation = hook;
  return {
    get fired() {
      return fired;
    },
    disarm() {
      if (image.onBeforeMutation === hook) image.onBeforeMutation = undefined;
    },
  };
}
