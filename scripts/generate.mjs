// Regenerates everything under src/generated/ from its sources of truth:
// the Prisma client(s) from prisma/*.prisma and the TypeScript types of the
// gRPC API from proto/. Runs on `npm install` (postinstall); never edit the
// output by hand.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });

run(bin('prisma'), ['generate', '--schema', 'prisma/schema.prisma']);
run(bin('prisma'), ['generate', '--schema', 'prisma/postgresql/schema.prisma']);

// These flags MUST equal the loader options in src/grpc/proto.ts
// (PROTO_LOADER_OPTIONS): the generated types describe what the loader decodes.
const protoFiles = ['herald/v1/common.proto', 'herald/v1/preferences.proto', 'herald/v1/notification.proto', 'herald/v1/delivery.proto'];
rmSync(new URL('../src/generated/proto', import.meta.url), { recursive: true, force: true });
run(bin('proto-loader-gen-types'), [
  '--keepCase',
  '--longs=Number',
  '--enums=String',
  '--defaults',
  '--oneofs',
  '--grpcLib=@grpc/grpc-js',
  '--importFileExtension=.js',
  '--outDir=src/generated/proto',
  '--includeDirs=proto',
  '--',
  ...protoFiles,
]);
console.log('generated src/generated/prisma and src/generated/proto');
