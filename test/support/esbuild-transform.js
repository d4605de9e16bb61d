// Jest transformer: TypeScript (and the ES modules some dependencies ship, such as aedes)
// to CommonJS with esbuild. Type checking is tsc's job (`npm test` runs it first).
const { transformSync } = require('esbuild');
const { createHash } = require('node:crypto');

const ESM_SYNTAX = /^\s*(import\s|import\{|export\s|export\{)/m;

module.exports = {
  getCacheKey(source, filename) {
    return createHash('sha256').update('v1\0').update(filename).update('\0').update(source).digest('hex');
  },
  process(source, filename) {
    const isTypeScript = filename.endsWith('.ts');
    if (!isTypeScript && !ESM_SYNTAX.test(source)) return { code: source };
    const result = transformSync(source, {
      loader: isTypeScript ? 'ts' : 'js',
      format: 'cjs',
      target: 'node20',
      sourcemap: 'inline',
      sourcefile: filename,
    });
    return { code: result.code };
  },
};
