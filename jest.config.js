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
};
