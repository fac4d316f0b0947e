/**
 * The ceilings Herald is measured against, in the same process pair style as
 * Herald itself: server and client share this process (and the machine's two
 * cores), so a ratio compares like with like.
 *
 * - A: a bare grpc-js unary echo server and client (what a gRPC call costs
 *   before Herald does anything).
 * - B: bare got 14 POSTs over a keep-alive agent to the benchmark receiver
 *   (what a webhook costs before Herald reads, signs or records anything).
 */
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import got, { type Got } from 'got';
import type { BenchReceiver } from './receiver.js';

const ECHO_PROTO = fileURLToPath(new URL('./echo.proto', import.meta.url));

interface EchoMessage {
  text: string;
}

interface EchoClient extends grpc.Client {
  Echo(request: EchoMessage, callback: (err: grpc.ServiceError | null, response?: EchoMessage) => void): grpc.ClientUnaryCall;
}

interface EchoPackage {
  bench: { v1: { EchoService: grpc.ServiceClientConstructor } };
}

export interface Ceiling {
  /** One call: an echo (A) or one POST (B). */
  call(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Ceiling A: an echo service loaded with @grpc/proto-loader (Herald's own
 * loader options) on 127.0.0.1:0, and one client channel, as Herald's client has.
 */
export async function startGrpcCeiling(): Promise<Ceiling> {
  const definition = protoLoader.loadSync(ECHO_PROTO, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as EchoPackage;
  const service = pkg.bench.v1.EchoService;
  const server = new grpc.Server();
  server.addService(service.service, {
    Echo: (call: grpc.ServerUnaryCall<EchoMessage, EchoMessage>, callback: grpc.sendUnaryData<EchoMessage>) => {
      callback(null, { text: call.request.text });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  const client = new service(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as EchoClient;
  const request: EchoMessage = { text: 'agent-00' };
  return {
    call: () =>
      new Promise<void>((resolve, reject) => {
        client.Echo(request, (err) => (err ? reject(err) : resolve()));
      }),
    async close() {
      client.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}

/**
 * Ceiling B: got 14 configured as Herald's sender is (keep-alive agent, one
 * attempt, no redirects, no decompression), posting `body` to `receiver`.
 */
export function startHttpCeiling(receiver: BenchReceiver, body: Buffer): Ceiling {
  const agent = new http.Agent({ keepAlive: true });
  const client: Got = got.extend({
    agent: { http: agent },
    retry: { limit: 0 },
    throwHttpErrors: false,
    followRedirect: false,
    decompress: false,
    timeout: { request: 10_000 },
  });
  const headers = { 'content-type': 'application/json' };
  return {
    async call() {
      const res = await client.post(receiver.url, { body, headers });
      if (res.statusCode !== 200) throw new Error(`ceiling B: receiver answered ${res.statusCode}`);
    },
    async close() {
      agent.destroy();
    },
  };
}
