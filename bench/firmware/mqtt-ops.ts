/**
 * Benchmark firmware: runs MQTT codec operations in measured batches on the XS engine. Each
 * timer tick is one batch of one phase; the host reads the meters after it.
 * - idle: nothing (the cost of a delivered batch itself);
 * - encode / decode: OPS PUBLISH encodes or decodes of a telemetry-sized message;
 * - keep-encoded / keep-decoded: the same, with the results kept alive (heap slots per result).
 */
import type { Hal } from '../../hal';
import { MqttDecoder } from '../../firmware/iot/mqtt/decoder';
import { encodePacket } from '../../firmware/iot/mqtt/encode';

export const OPS = 100;
export const PHASES = ['idle', 'encode', 'decode', 'keep-encoded', 'keep-decoded'] as const;

export function boot(hal: Hal): void {
  const topic = 'devices/esp32-devkitc-001/messages/events/';
  const payload = hal.text.encode(JSON.stringify({ seq: 1234, uptimeMs: 3_600_000, readings: { sht31: { temperature: 21.53, humidity: 48.2 } } }));
  const wire = encodePacket({ type: 'publish', topic, payload, qos: 1, retain: false, dup: false, packetId: 42 });
  let kept: unknown[] = [];
  let round = 0;
  hal.timers.repeat(() => {
    const phase = PHASES[round++ % PHASES.length];
    kept = [];
    for (let i = 0; i < (phase === 'idle' ? 0 : OPS); i++) {
      if (phase === 'encode' || phase === 'keep-encoded') {
        const bytes = encodePacket({ type: 'publish', topic, payload, qos: 1, retain: false, dup: false, packetId: (i % 65535) + 1 });
        if (phase === 'keep-encoded') kept.push(bytes);
      } else {
        const packets = new MqttDecoder().push(wire);
        if (phase === 'keep-decoded') kept.push(packets[0]);
      }
    }
    hal.log.event('bench', { phase, ops: phase === 'idle' ? 0 : OPS, wireBytes: wire.length });
  }, 1000);
}
