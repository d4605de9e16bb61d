/** Finds the xsnap-worker binary that `npm install` built from @agoric/xsnap. */
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export function xsnapWorkerPath(): string {
  let packageDir: string;
  try {
    packageDir = path.dirname(require.resolve('@agoric/xsnap/package.json'));
  } catch {
    throw new Error('the XS engine package @agoric/xsnap is not installed: run `npm install` in the thingkit folder');
  }
  const platform = process.platform === 'darwin' ? 'mac' : 'lin';
  const binary = path.join(packageDir, 'xsnap-native', 'xsnap', 'build', 'bin', platform, 'release', 'xsnap-worker');
  if (!existsSync(binary)) {
    throw new Error(
      `the XS engine was not built (${binary} is missing). It is compiled from C when @agoric/xsnap installs: ` +
        'install make and a C compiler (Debian: `apt-get install -y build-essential`), then run `npm rebuild @agoric/xsnap`',
    );
  }
  return binary;
}
