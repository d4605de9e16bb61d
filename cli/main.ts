/** The `thingkit` command: dispatches to its subcommands and turns errors into one line. */
import { FirmwareError } from '../host-sim/engines/engine';
import { SimulationError } from '../host-sim/simulation';
import { UsageError } from './duration';
import { simCommand } from './sim-command';

const USAGE = `usage: thingkit <command> [options]

commands:
  sim      run simulated devices against a broker (thingkit sim --help)
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'sim':
        return await simCommand(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"; commands: sim`);
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
