import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A fresh directory for one test file's flash images, removed after its tests. */
export function useTempDir(): () => string {
  let dir = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'thingkit-flash-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });
  let counter = 0;
  return () => path.join(dir, `device-${++counter}.bin`);
}
