/** One line of what the simulator reports: a device's event at its own time. */
export interface SimEvent {
  /** Device id. */
  device: string;
  engine: 'xs' | 'node';
  /** Device milliseconds since its last boot. */
  t: number;
  /** `boot`, `connected`, `disconnected`, `telemetry`, `meter`, `error`, `restart`, `log`, … */
  type: string;
  [field: string]: unknown;
}

export type SimEventSink = (event: SimEvent) => void;
