/**
 * bench/mqtt: the MQTT codec's cost. Prints one JSON object:
 * - xs: compute steps per PUBLISH encode and per incoming PUBLISH decode on the real XS
 *   engine (a batch of 100 less an idle batch, averaged over rounds), and heap slots each
 *   result keeps alive;
 * - wire: bytes on the wire per telemetry message (QoS 1 PUBLISH and the PUBACK back);
 * - node: operations per second of our codec beside mqtt-packet's, on the same packets.
 * Usage: npx ts-node --transpile-only bench/mqtt.ts [--rounds N]
 */
import * as mqttPacket from 'mqtt-packet';
import { MqttDecoder } from '../firmware/iot/mqtt/decoder';
import { encodePacket } from '../firmware/iot/mqtt/encode';
import { median, xsPhaseMeters } from './xs-phases';
import { OPS, PHASES } from './firmware/mqtt-ops';

async function xsFigures(rounds: number) {
  const byPhase = await xsPhaseMeters('mqtt-ops.ts', rounds * PHASES.length * 1000 + 500);
  const compute = (phase: string) => median(byPhase.get(phase)!.compute);
  const slots = (phase: string) => median(byPhase.get(phase)!.stateSlots);
  return {
    computePerPublishEncode: Math.round((compute('encode') - compute('idle')) / OPS),
    computePerPublishDecode: Math.round((compute('decode') - compute('idle')) / OPS),
    heapSlotsPerEncodedPublish: +((slots('keep-encoded') - slots('idle')) / OPS).toFixed(1),
    heapSlotsPerDecodedPublish: +((slots('keep-decoded') - slots('idle')) / OPS).toFixed(1),
  };
}

function opsPerSecond(run: () => void, minMs = 300): number {
  let count = 0;
  const start = performance.now();
  while (performance.now() - start < minMs) {
    for (let i = 0; i < 1000; i++) run();
    count += 1000;
  }
  return Math.round(count / ((performance.now() - start) / 1000));
}

function nodeFigures() {
  const topic = 'devices/esp32-devkitc-001/messages/events/';
  const payload = Buffer.from(JSON.stringify({ seq: 1234, uptimeMs: 3_600_000, readings: { sht31: { temperature: 21.53, humidity: 48.2 } } }));
  const ours = encodePacket({ type: 'publish', topic, payload: new Uint8Array(payload), qos: 1, retain: false, dup: false, packetId: 42 });
  const theirs = mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false, messageId: 42 });
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  let parsed = 0;
  parser.on('packet', () => parsed++);
  const puback = encodePacket({ type: 'puback', packetId: 42 });
  return {
    wire: { telemetryPublishBytes: ours.length, pubackBytes: puback.length, payloadBytes: payload.length, identicalToMqttPacket: Buffer.compare(Buffer.from(ours), theirs) === 0 },
    node: {
      thingkitEncodePerSecond: opsPerSecond(() => encodePacket({ type: 'publish', topic, payload: new Uint8Array(payload), qos: 1, retain: false, dup: false, packetId: 42 })),
      mqttPacketEncodePerSecond: opsPerSecond(() => mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false, messageId: 42 })),
      thingkitDecodePerSecond: opsPerSecond(() => new MqttDecoder().push(ours)),
      mqttPacketDecodePerSecond: opsPerSecond(() => parser.parse(theirs)),
      mqttPacketParsed: parsed > 0,
    },
  };
}

async function main(): Promise<void> {
  const roundsArg = process.argv.indexOf('--rounds');
  const rounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 10;
  const xs = await xsFigures(rounds);
  const { wire, node } = nodeFigures();
  console.log(JSON.stringify({ bench: 'mqtt', rounds, xs, wire, node }, null, 2));
}

main().catch((error) => {
  console.error(`bench/mqtt: ${error.message}`);
  process.exitCode = 1;
});
