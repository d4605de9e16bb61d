/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  transform: { '\\.(ts|js|mjs)$': '<rootDir>/test/support/esbuild-transform.js' },
  // Dependencies that ship only ES modules are transformed too; everything else is left alone.
  transformIgnorePatterns: [],
  testTimeout: 60000,
  // Run the files in a worker that is replaced once it holds more than this after a file. Without
  // it a 2-core runner runs everything in one process that grows past 1 GB, and the simulations
  // late in the run slowed down several times over (one took 295 s instead of 70).
  workerIdleMemoryLimit: '400MB',
};
