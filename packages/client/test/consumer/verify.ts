// The receiver side of the consumer: verifies a webhook request recorded by the test's
// receiver with the packed verifyWebhook. Usage: node verify.js <request.json> <secret>, where
// the file holds {headers, body_base64}. Prints one JSON line.
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';

import { checkWebhook, verifyWebhook } from '@herald/client';

const [file = '', secret = ''] = process.argv.slice(2);
const request = JSON.parse(readFileSync(file, 'utf8')) as { headers: IncomingHttpHeaders; body_base64: string };
const body = Buffer.from(request.body_base64, 'base64');
const tampered = Buffer.concat([body, Buffer.from(' ')]);
console.log(JSON.stringify({
  valid: verifyWebhook(body, request.headers, secret),
  asString: verifyWebhook(body.toString('utf8'), request.headers, secret),
  hex: checkWebhook(body, request.headers, secret, { scheme: 'hex' }),
  tampered: checkWebhook(tampered, request.headers, secret),
}));
