/**
 * The ceilings Herald is measured against, each run as Herald is: the server
 * in a process of its own (bench/child.ts), loaded by the same load
 * generator process shape (bench/load-generator.ts).
 *
 * - A: a bare grpc-js unary echo server (what a gRPC call costs before
 *   Herald does anything).
 * - B: bare got 14 POSTs over a keep-alive agent to the benchmark receiver
 *   (what a webhook costs before Herald reads, signs or records anything).
 */
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import got, { type Got } from 'got';

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

function echoService(): grpc.ServiceClientConstructor {
  // Herald's own loader options, so both sides pay the same decoding.
  const definition = protoLoader.loadSync(ECHO_PROTO, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
  return (grpc.loadPackageDefinition(definition) as unknown as EchoPackage).bench.v1.EchoService;
}

/** Ceiling A's server on 127.0.0.1:0. */
export async function startEchoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const service = echoService();
  const server = new grpc.Server();
  server.addService(service.service, {
    Echo: (call: grpc.ServerUnaryCall<EchoMessage, EchoMessage>, callback: grpc.sendUnaryData<EchoMessage>) => {
      callback(null, { text: call.request.text });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  return { port, close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}

export interface Caller {
  call(): Promise<void>;
  close(): Promise<void>;
}

/** Ceiling A's client: one channel, as Herald's client has. */
export function echoCaller(address: string): Caller {
  const service = echoService();
  const client = new service(address, grpc.credentials.createInsecure()) as unknown as EchoClient;
  const request: EchoMessage = { text: 'agent-00' };
  return {
    call: () => new Promise<void>((resolve, reject) => client.Echo(request, (err) => (err ? reject(err) : resolve()))),
    close: async () => client.close(),
  };
}

/**
 * Ceiling B: got 14 configured as Herald's sender is (keep-alive agent, one
 * attempt, no redirects, no decompression), posting `body` to `url`.
 */
export function postCaller(url: string, body: Buffer): Caller {
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
      const res = await client.post(url, { body, headers });
      if (res.statusCode !== 200) throw new Error(`ceiling B: receiver answered ${res.statusCode}`);
    },
    close: async () => agent.destroy(),
  };
}
