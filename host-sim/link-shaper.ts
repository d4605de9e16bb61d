/**
 * A thin link in one direction: bytes go out one after another at `bytesPerSecond` (a weak
 * cellular uplink, a congested Wi-Fi, a LoRa-class bridge) and each arrives `latencyMs` after
 * it was sent. Pure arithmetic on simulation time; the device host holds the bytes until then.
 */
export interface LinkQuality {
  bytesPerSecond: number;
  latencyMs: number;
}

/** Checks a link quality; the message says which field is wrong and what it may be. */
export function checkLinkQuality(quality: LinkQuality): void {
  if (!(Number.isFinite(quality.bytesPerSecond) && quality.bytesPerSecond >= 1)) {
    throw new RangeError(`bytesPerSecond must be a number of at least 1, got ${quality.bytesPerSecond}`);
  }
  if (!(Number.isFinite(quality.latencyMs) && quality.latencyMs >= 0)) {
    throw new RangeError(`latencyMs must be 0 or more, got ${quality.latencyMs}`);
  }
}

export class LinkShaper {
  /** When the line finishes sending what it was given so far. */
  private busyUntil = 0;

  constructor(readonly quality: LinkQuality) {
    checkLinkQuality(quality);
  }

  /** Hands `byteCount` bytes to the link at `now`; returns when the last of them arrives. */
  send(now: number, byteCount: number): number {
    const start = Math.max(now, this.busyUntil);
    this.busyUntil = start + (byteCount * 1000) / this.quality.bytesPerSecond;
    return Math.ceil(this.busyUntil + this.quality.latencyMs);
  }
}
