/**
 * The outbox on the XS engine (the one the ESP32 runs), with only the globals an ESP32 build
 * has: the same scenario gives the same results as in Node. Reports XS's meters.
 */
import { buildSync } from 'esbuild';
import * as path from 'node:path';
import { preludeSource } from '../../host-sim/engines/xs-globals';
import { XsWorker } from '../../host-sim/engines/xs-worker';
import { scenario } from './xs-scenario';

test('the outbox and the drain planner behave the same on XS as in Node', async () => {
  const bundle = buildSync({
    stdin: {
      contents: [
        `import { scenario } from ${JSON.stringify(path.join(__dirname, 'xs-scenario'))};`,
        'const bridge = globalThis.__thingkitBridge;',
        'bridge.issueCommand(bridge.encodeText(JSON.stringify(scenario())).buffer);',
      ].join('\n'),
      resolveDir: __dirname,
      loader: 'ts',
    },
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'neutral',
    target: 'es2022',
    logLevel: 'silent',
  }).outputFiles[0]!.text;
  let reply = '';
  const worker = new XsWorker('outbox', (message) => {
    reply = new TextDecoder().decode(message);
    return new Uint8Array(0);
  });
  try {
    await worker.evaluate(preludeSource());
    const result = await worker.evaluate(bundle);
    const onXs = JSON.parse(reply);
    expect(onXs).toEqual(JSON.parse(JSON.stringify(scenario())));
    expect(onXs).toMatchObject({ torn: true, sealed: true, bitSets: 0 });
    expect(onXs.dropped).toBeGreaterThan(0);
    expect(result.meters.compute).toBeGreaterThan(0);
  } finally {
    await worker.close();
  }
});
