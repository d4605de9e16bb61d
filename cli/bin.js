#!/usr/bin/env node
// The `thingkit` command. Its TypeScript runs through ts-node (transpile only: `npm test`
// type-checks the project), so the command works from a clean clone with no build step.
// Output piped into `head` and the like: stop quietly when the reader goes away.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
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
