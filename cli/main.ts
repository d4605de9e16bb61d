/** The `thingkit` command: dispatches to its subcommands and turns errors into one line. */
import { FirmwareError } from '../host-sim/engines/engine';
import { SimulationError } from '../host-sim/simulation';
import { UsageError } from './duration';
import { hubCommand } from './hub-commands';
import { buildCommand, otaCommand } from './ota-commands';
import { simCommand } from './sim-command';

const USAGE = `usage: thingkit <command> [options]

commands:
  sim                 run simulated devices against the local hub or a broker (thingkit sim --help)
  hub                 run the local IoT hub (thingkit hub --help)
  build               build the simulator's app image (thingkit build --help)
  ota                 signing keys, signed manifests, publishing and staged rollouts (thingkit ota --help)
  device, twin, method, c2d, enroll, telemetry, logs
                      talk to a running hub: registry, twins, direct methods, cloud-to-device
                      messages, DPS enrollments (--hub URL; see thingkit hub --help)
`;

/** Commands that talk to a running hub over its HTTP API. */
const HUB_CLIENT_COMMANDS = new Set(['device', 'twin', 'method', 'c2d', 'enroll', 'telemetry', 'logs', 'silent', 'stats']);

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'sim':
        return await simCommand(rest);
      case 'hub':
        return await hubCommand(rest);
      case 'build':
        return await buildCommand(rest);
      case 'ota':
        return await otaCommand(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        if (HUB_CLIENT_COMMANDS.has(command)) return await hubCommand([command, ...rest]);
        throw new UsageError(`unknown command "${command}"; commands: sim, hub, ${[...HUB_CLIENT_COMMANDS].join(', ')}, build, ota`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`thingkit: ${error.message}\n`);
      return 2;
    }
    if (error instanceof SimulationError || error instanceof FirmwareError) {
      process.stderr.write(`thingkit: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
