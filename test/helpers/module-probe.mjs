// Preloaded into a Herald child (NODE_OPTIONS=--import <this file>) by
// test/integration/tracing.test.ts: writes to HERALD_TEST_MODULE_LOG every
// module the process loaded whose path has `@opentelemetry/` in it, as the
// ES module resolver resolved it (module-probe-hooks.mjs) and as the
// CommonJS loader cached it (require.cache, read at exit: CommonJS
// packages and whatever they require themselves never pass the ES hooks).
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const file = process.env.HERALD_TEST_MODULE_LOG;
if (file) {
  register('./module-probe-hooks.mjs', import.meta.url, { data: { file } });
  const require = createRequire(import.meta.url);
  process.on('exit', () => {
    const cached = Object.keys(require.cache).filter((path) => path.includes('/@opentelemetry/'));
    appendFileSync(file, cached.map((path) => `cjs ${path}\n`).join(''));
  });
}
