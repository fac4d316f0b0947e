/**
 * The one place where the client's proto files and proto-loader options are written down.
 *
 * scripts/build.mjs generates the TypeScript types with {@link generatorFlags}, derived from
 * these options, and the client loads the .proto files with the same options at run time, so
 * the types describe exactly what the loader decodes. The repository's test
 * test/unit/client-proto-options.test.ts fails when they differ from the server's.
 *
 * The codec relies on two of them: `oneofs: true` gives every decoded
 * `google.protobuf.Value` a `kind` naming the member that is set (with `defaults: true`
 * every member is present, so `kind` is the only way to tell), and `keepCase: true` keeps
 * the .proto field names the codec looks up.
 */

/** The API's .proto files, relative to the package's `proto/` directory. */
export const PROTO_FILES: readonly string[] = Object.freeze([
  'herald/v1/common.proto',
  'herald/v1/preferences.proto',
  'herald/v1/endpoint.proto',
  'herald/v1/notification.proto',
  'herald/v1/delivery.proto',
  'herald/v1/portal.proto',
]);

/** proto-loader options, without `includeDirs` (which depends on where the package is installed). */
export const LOADER_OPTIONS = Object.freeze({
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});

/**
 * The `proto-loader-gen-types` flags that describe {@link LOADER_OPTIONS}: `--keepCase`,
 * `--longs=Number`, `--enums=String`, `--defaults`, `--oneofs`.
 */
export function generatorFlags(): string[] {
  const flags: string[] = [];
  for (const [name, value] of Object.entries(LOADER_OPTIONS)) {
    if (value === true) {
      flags.push(`--${name}`);
    } else if (typeof value === 'function') {
      // String and Number are passed to the loader as constructors and to the generator by name.
      flags.push(`--${name}=${value.name}`);
    }
  }
  return flags;
}
