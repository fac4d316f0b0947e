/**
 * The container health probe (the Docker image's HEALTHCHECK runs
 * `node dist/healthcheck.js`): asks the Herald in this container for
 * `grpc.health.v1.Health/Check` on its own gRPC port, found through the same
 * configuration (GRPC_ADDRESS, HERALD_TLS_*) the server reads, with a short
 * deadline. Exits 0 when the answer is SERVING, 1 otherwise (Docker reserves 2),
 * and prints one line, which `docker inspect` keeps with the health state.
 *
 * The line names the build (version and revision, src/version.ts): the probe
 * runs from the same image as the server, so it is the server's build too.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { ConfigError, loadConfig, type Config, type TlsConfig } from './config.js';
import { BUILD, versionLabel } from './version.js';

/** How long the probe waits for an answer: well under the image's HEALTHCHECK --timeout (5 s). */
export const PROBE_DEADLINE_MS = 3_000;

const CHECK_PATH = '/grpc.health.v1.Health/Check';

/**
 * Where a probe inside the container reaches a server bound to `address`:
 * a wildcard host is answered on loopback; any other host is dialled as given.
 */
export function probeTarget(address: string): string {
  const match = /^(.+):(\d+)$/.exec(address);
  if (match === null) return address;
  const [, host, port] = match;
  if (host === '0.0.0.0') return `127.0.0.1:${port}`;
  if (host === '[::]' || host === '::') return `[::1]:${port}`;
  return address;
}

/**
 * Credentials matching the server's port. Under TLS the probe dials its own
 * container's loopback, where checking the certificate's name and issuer
 * proves nothing, so neither is checked. Under mutual TLS it presents the
 * server's own certificate, which works when the client CA also signed it;
 * otherwise override the image's HEALTHCHECK.
 */
function probeCredentials(tls: TlsConfig | null): grpc.ChannelCredentials {
  if (tls === null) return grpc.credentials.createInsecure();
  const unchecked = { rejectUnauthorized: false, checkServerIdentity: () => undefined };
  if (tls.clientCa === null) return grpc.credentials.createSsl(null, null, null, unchecked);
  return grpc.credentials.createSsl(null, tls.privateKey, tls.certChain, unchecked);
}

/** The serving status the server at `target` reports for the whole server (service ""), or the error that prevented an answer. */
export async function checkHealth(target: string, credentials: grpc.ChannelCredentials, deadlineMs: number = PROBE_DEADLINE_MS): Promise<string> {
  const definition = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String, defaults: true });
  const check = definition['grpc.health.v1.Health'] as grpc.ServiceDefinition | undefined;
  const method = check?.['Check'];
  if (method === undefined) throw new Error(`${healthProtoPath} defines no grpc.health.v1.Health/Check`);
  const client = new grpc.Client(target, credentials);
  try {
    return await new Promise<string>((resolve, reject) => {
      client.makeUnaryRequest(
        CHECK_PATH,
        method.requestSerialize,
        method.responseDeserialize,
        { service: '' },
        { deadline: Date.now() + deadlineMs },
        (err, res) => (err ? reject(err) : resolve(String((res as { status?: unknown } | undefined)?.status ?? 'UNKNOWN'))),
      );
    });
  } finally {
    client.close();
  }
}

async function main(): Promise<number> {
  const build = `herald ${versionLabel(BUILD)}`;
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stdout.write(`UNHEALTHY ${build}: configuration error: ${err.message}\n`);
    return 1;
  }
  if (config.grpc === null) {
    // A worker opens no port; the container running is all there is to check.
    process.stdout.write(`NO PORT ${build}: HERALD_ROLE=worker serves no gRPC, so there is no health service to ask\n`);
    return 0;
  }
  const target = probeTarget(config.grpc.address);
  try {
    const status = await checkHealth(target, probeCredentials(config.grpc.tls));
    process.stdout.write(`${status} ${build} at ${target}\n`);
    return status === 'SERVING' ? 0 : 1;
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    process.stdout.write(`UNHEALTHY ${build} at ${target}: ${detail.slice(0, 200)}\n`);
    return 1;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
