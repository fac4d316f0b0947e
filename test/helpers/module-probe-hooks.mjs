// ES module resolve hook of module-probe.mjs: records each resolved URL under @opentelemetry/.
import { appendFileSync } from 'node:fs';

let file = '';

export function initialize(data) {
  file = data.file;
}

export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (result.url.includes('/@opentelemetry/')) appendFileSync(file, `esm ${result.url}\n`);
  return result;
}
