// Tells Herald about one notification, the way a platform service would after finishing a job.
//
//   HERALD_ADDRESS=localhost:50051 HERALD_TOKEN=… HERALD_INSECURE=true npm run notify -- agent-42 17
//
// HERALD_CA_FILE (a PEM bundle) trusts a private CA; without HERALD_INSECURE the connection uses TLS.
import { readFileSync } from 'node:fs';

import { createHeraldClient, HeraldError, Status } from '@herald/client';

const [agentId = 'agent-42', jobId = '17'] = process.argv.slice(2);
const caFile = process.env.HERALD_CA_FILE;
const herald = createHeraldClient(process.env.HERALD_ADDRESS ?? 'localhost:50051', {
  token: process.env.HERALD_TOKEN,
  ...(process.env.HERALD_INSECURE === 'true' ? { insecure: true } : { tls: caFile ? { ca: readFileSync(caFile) } : {} }),
  timeoutMs: 5_000,
});

/** Codes worth another try: the request may not have been handled, and the idempotency key makes a repeat safe. */
const RETRYABLE = new Set<number>([Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED, Status.ALREADY_EXISTS, Status.RESOURCE_EXHAUSTED]);

async function notifyJobFinished(): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const { notification, decision, replayed } = await herald.NotificationService.CreateNotification(
        {
          agent_id: agentId,
          notification_type: 'job.completed',
          title: `Job ${jobId} finished`,
          content: 'All 3 steps passed.',
          priority: 'PRIORITY_HIGH',
          related_entity_type: 'job',
          related_entity_id: jobId,
          // Plain JSON; the client converts it to google.protobuf.Struct.
          metadata: { duration_s: 42, steps: ['build', 'test', 'deploy'] },
          // The same key on every attempt: Herald stores and sends it once.
          idempotency_key: `job-${jobId}-completed`,
        },
        { timeoutMs: 2_000 },
      );
      console.log(`${notification?.id}: ${decision?.outcome} (${decision?.explanation})${replayed ? ', already known' : ''}`);
      return;
    } catch (error) {
      if (error instanceof HeraldError && RETRYABLE.has(error.code) && attempt < 4) {
        console.warn(`attempt ${attempt}: ${error.codeName}, retrying`);
        await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
        continue;
      }
      if (error instanceof HeraldError && error.code === Status.INVALID_ARGUMENT) {
        // details names the field and the rule, e.g. "title: must be 1-500 characters".
        console.error(`Herald refused the notification: ${error.details}`);
      } else if (error instanceof HeraldError && error.code === Status.UNAUTHENTICATED) {
        console.error('Herald wants a valid token: set HERALD_TOKEN');
      }
      throw error;
    }
  }
}

try {
  await notifyJobFinished();
} finally {
  herald.close();
}
