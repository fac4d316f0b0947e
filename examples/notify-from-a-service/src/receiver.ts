// Receives Herald's webhooks and checks them before trusting them.
//
//   HERALD_WEBHOOK_SECRET=whsec_… PORT=8080 npm run receiver
//
// The secret is the agent's, from GetWebhookSecret (or RotateWebhookSecret). During a rotation,
// pass both as HERALD_WEBHOOK_SECRET=new,old until the old one is retired.
import http from 'node:http';

import { checkWebhook, parseWebhook } from '@herald/client';

const secrets = (process.env.HERALD_WEBHOOK_SECRET ?? '').split(',').filter((s) => s !== '');
if (secrets.length === 0) throw new Error('set HERALD_WEBHOOK_SECRET to the agent\'s webhook secret');
const MAX_BODY_BYTES = 1024 * 1024;
/** Deliveries are at least once: the same webhook-id may come again. Keep a bounded memory of them. */
const seen = new Set<string>();

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) req.destroy();
    else chunks.push(chunk);
  });
  req.on('end', () => {
    // Verify the bytes as received; parse only afterwards.
    const body = Buffer.concat(chunks);
    const check = checkWebhook(body, req.headers, secrets, { toleranceSeconds: 300 });
    if (!check.ok) {
      console.warn(`refused a webhook: ${check.reason}`);
      res.writeHead(401).end();
      return;
    }
    const id = String(req.headers['webhook-id'] ?? req.headers['x-herald-delivery'] ?? '');
    if (!seen.has(id)) {
      seen.add(id);
      if (seen.size > 10_000) seen.delete(seen.values().next().value ?? '');
      const event = parseWebhook(body);
      switch (event.event) {
        case 'notification':
          console.log(`${id}: notification ${event.notification.title}`);
          break;
        case 'digest':
          // One webhook for a quiet window (or what the hourly limit held back), oldest first.
          console.log(`${id}: digest of ${event.digest.count}: ${event.digest.notifications.map((n) => n.title).join(' | ')}`);
          break;
        case 'test':
          console.log(`${id}: test webhook`);
          break;
      }
    }
    res.writeHead(200).end('ok');
  });
});

server.listen(Number(process.env.PORT ?? 8080), () => console.log(`listening on ${JSON.stringify(server.address())}`));
