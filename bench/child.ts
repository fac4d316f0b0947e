/**
 * The helper processes the benchmark forks, one role each, so that the
 * ceilings and the load generators never share an event loop with each other
 * or with Herald (which runs as `node dist/main.js`, see herald-process.ts):
 *
 * - `echo`: the bare grpc-js echo server of ceiling A;
 * - `load`: the load generator (see bench/load-generator.ts).
 *
 * Every role answers over the IPC channel: `ready` once serving, then one
 * reply per request, and `stopped` with its peak RSS after a `stop`.
 */
import { startEchoServer } from './ceilings.js';
import { startLoadGenerator, type LoadSpec } from './load-generator.js';
import type { ChildReply, ChildRequest } from './processes.js';

function send(reply: ChildReply): void {
  process.send?.(reply);
}

function peakRssBytes(): number {
  // maxRSS is in kilobytes.
  return process.resourceUsage().maxRSS * 1024;
}

async function main(): Promise<void> {
  const role = process.argv[2];
  let stop: () => Promise<void>;
  let handle: (request: ChildRequest) => Promise<ChildReply> = async () => ({ type: 'error', message: `${role} takes no requests` });
  if (role === 'echo') {
    const server = await startEchoServer();
    stop = server.close;
    send({ type: 'ready', port: server.port });
  } else if (role === 'load') {
    const spec = JSON.parse(process.argv[3] ?? '') as LoadSpec;
    const generator = await startLoadGenerator(spec);
    stop = generator.close;
    handle = generator.handle;
    send({ type: 'ready', port: null });
  } else {
    throw new Error(`unknown role ${String(role)}`);
  }
  process.on('message', (request: ChildRequest) => {
    if (request.type === 'stop') {
      void stop().then(
        () => {
          const cpu = process.cpuUsage();
          send({ type: 'stopped', peakRssBytes: peakRssBytes(), cpuMs: (cpu.user + cpu.system) / 1000 });
          process.disconnect();
        },
        (err: unknown) => {
          send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
          process.exit(1);
        },
      );
      return;
    }
    void handle(request).then(send, (err: unknown) => send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench child ${process.argv[2] ?? ''} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
