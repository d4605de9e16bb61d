/**
 * firmware/app/rules is a sans-I/O core (DESIGN.md §2): it imports nothing but its own
 * folder (not even the HAL), and takes time as numbers. test/firmware-rules.test.ts checks
 * the globals (no timers, Date.now, Math.random, console, Buffer); this checks the imports.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const DIR = join(__dirname, '..', '..', 'firmware', 'app', 'rules');
const files = readdirSync(DIR).filter((name) => name.endsWith('.ts'));

function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
}

test('there are files to check', () => {
  expect(files).toEqual(expect.arrayContaining(['config.ts', 'engine.ts', 'index.ts', 'limits.ts', 'window.ts']));
});

test.each(files)('%s imports only its siblings', (name) => {
  const source = withoutComments(readFileSync(join(DIR, name), 'utf8'));
  const specifiers = [...source.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]/g)].map((m) => m[1] ?? m[2]);
  expect(specifiers.filter((specifier) => !/^\.\/[\w-]+$/.test(specifier!))).toEqual([]);
});

test.each(files)('%s reads no clock and no randomness', (name) => {
  const source = withoutComments(readFileSync(join(DIR, name), 'utf8'));
  expect(source).not.toMatch(/\bDate\b|\bperformance\b|\bMath\.random\b|\bsetTimeout\b|\bsetInterval\b|\bglobalThis\b/);
});
