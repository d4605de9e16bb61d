#!/usr/bin/env node
// The `thingkit` command. Its TypeScript runs through ts-node (transpile only: `npm test`
// type-checks the project), so the command works from a clean clone with no build step.
require('ts-node').register({ transpileOnly: true, project: require('node:path').join(__dirname, '..', 'tsconfig.json') });
require('./main.ts').main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`thingkit: ${error && error.stack ? error.stack : error}\n`);
    process.exitCode = 1;
  },
);
