// Regenerates everything under src/generated/ from its sources of truth:
// the Prisma client(s) from prisma/*.prisma and the TypeScript types of the
// gRPC API from proto/. Runs on `npm install` (postinstall); never edit the
// output by hand.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });

run(bin('prisma'), ['generate', '--schema', 'prisma/schema.prisma']);
run(bin('prisma'), ['generate', '--schema', 'prisma/postgresql/schema.prisma']);

// proto/manifest.json is the one list of API protos and loader options; src/grpc/proto.ts
// reads the same file, so the generated types describe exactly what the loader decodes.
// Each loader option is also a generator flag of the same name (`keepCase: true` →
// `--keepCase`, `longs: "Number"` → `--longs=Number`); proto.ts refuses options it cannot map.
const manifest = JSON.parse(readFileSync(new URL('../proto/manifest.json', import.meta.url), 'utf8'));
const loaderFlags = Object.entries(manifest.loader).flatMap(([key, value]) =>
  value === true ? [`--${key}`] : value === false ? [] : [`--${key}=${value}`],
);
rmSync(new URL('../src/generated/proto', import.meta.url), { recursive: true, force: true });
run(bin('proto-loader-gen-types'), [
  ...loaderFlags,
  '--grpcLib=@grpc/grpc-js',
  '--importFileExtension=.js',
  '--outDir=src/generated/proto',
  '--includeDirs=proto',
  '--',
  ...manifest.files,
]);
console.log('generated src/generated/prisma and src/generated/proto');
