// A consumer of the packed @herald/client: test/integration/client-package.test.ts installs the
// tarball in a fresh project, compiles this file with tsc (strict, NodeNext) and runs it
// against a real Herald. Usage: node calls.js <address> <token> <receiver-url> <agent-id>.
// Prints one JSON line with what it saw; the test asserts on it.
import {
  createHeraldClient,
  HeraldError,
  Status,
  type HeraldClient,
  type HeraldStream,
  type JsonObject,
  type Message,
  type MessageInput,
  type RequestType,
  type ResponseType,
} from '@herald/client';

/**
 * Compile-time checks of the generated surface; never called. Each @ts-expect-error fails the
 * compilation if the types stop refusing what they must.
 */
export function typeChecks(herald: HeraldClient): void {
  const request: RequestType<'NotificationService', 'CreateNotification'> = { agent_id: 'a', metadata: { n: 1, l: [null, { x: 'y' }] } };
  const pending: Promise<ResponseType<'NotificationService', 'CreateNotification'>> = herald.NotificationService.CreateNotification(request);
  const stream: HeraldStream<Message<'DeliveryEvent'>> = herald.DeliveryService.WatchDeliveries({ agent_id: 'a' });
  const prefs: MessageInput<'Preferences'> = { agent_id: 'a', quiet_hours: { start: '22:00', end: '07:00', policy: 'QUIET_HOURS_POLICY_DEFER' } };
  void herald.NotificationService.EvaluateNotification({ notification: { agent_id: 'a' }, at: new Date() });
  // @ts-expect-error a Date is not JSON metadata
  void herald.NotificationService.CreateNotification({ agent_id: 'a', metadata: { at: new Date() } });
  // @ts-expect-error a field the message does not have
  void herald.NotificationService.CreateNotification({ agentId: 'a' });
  // @ts-expect-error enum values are their names
  void herald.NotificationService.CreateNotification({ agent_id: 'a', priority: 'HIGH' });
  // @ts-expect-error a stream is not a promise
  void herald.DeliveryService.WatchDeliveries({}).then;
  // @ts-expect-error no such RPC
  void herald.NotificationService.DeleteNotification;
  void [pending, stream, prefs];
}


const [address = '', token = '', receiverUrl = '', agentId = ''] = process.argv.slice(2);
const herald = createHeraldClient(address, { insecure: true, token, timeoutMs: 5_000 });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

try {
  const preferences: Message<'Preferences'> = await herald.PreferencesService.UpdatePreferences({
    preferences: { agent_id: agentId, enable_webhook: true, webhook_url: receiverUrl },
  });
  const { webhook_secret } = await herald.PreferencesService.GetWebhookSecret({ agent_id: agentId });

  // Read the stream until the notification's delivery SUCCEEDED, then leave the loop: that
  // must cancel the call, so `reading` settles without an error.
  const seen: Array<Message<'DeliveryEvent'>> = [];
  let target = '';
  const reading = (async () => {
    for await (const event of herald.DeliveryService.WatchDeliveries({ agent_id: agentId })) {
      seen.push(event);
      if (target !== '' && event.delivery?.id === target && event.delivery.status === 'DELIVERY_STATUS_SUCCEEDED') break;
    }
    return 'left the loop';
  })();
  // The server subscribes when the call reaches it; a test webhook seen on the stream proves it.
  const probes = new Set<string>();
  for (let i = 0; i < 50 && !seen.some((e) => probes.has(e.delivery?.id ?? '')); i++) {
    probes.add((await herald.DeliveryService.SendTestWebhook({ agent_id: agentId })).delivery_id);
    await sleep(100);
  }

  const metadata: JsonObject = { duration_s: 42, steps: ['build', 'test'], result: { ok: true, warnings: null } };
  const { notification, decision } = await herald.NotificationService.CreateNotification(
    { agent_id: agentId, notification_type: 'job.completed', title: 'Job 17 finished', priority: 'PRIORITY_HIGH', metadata },
    { timeoutMs: 3_000, metadata: { 'x-request-id': 'consumer-1' } },
  );
  target = decision?.delivery_id ?? '';
  const readBack = await herald.NotificationService.GetNotification({ id: notification?.id ?? '' }, { deadline: new Date(Date.now() + 3_000) });

  let notFound: { code: number; codeName: string; details: string; isNotFound: boolean } | null = null;
  try {
    await herald.NotificationService.GetNotification({ id: 'ntf_00000000000000000000000000' });
  } catch (error) {
    if (error instanceof HeraldError) {
      notFound = { code: error.code, codeName: error.codeName, details: error.details, isNotFound: error.code === Status.NOT_FOUND };
    }
  }

  let badMetadata = '';
  try {
    // What plain JavaScript can pass: a value JSON cannot carry.
    await herald.NotificationService.CreateNotification({ agent_id: agentId, notification_type: 'x', title: 'x', metadata: { when: undefined } as unknown as JsonObject });
  } catch (error) {
    badMetadata = error instanceof TypeError ? error.message : String(error);
  }

  // README (Portal): what a platform's backend does to send an agent's owner to the portal.
  const { url: portalUrl } = await herald.PortalService.CreatePortalSession({ agent_id: agentId, ttl_seconds: 900 });

  const left = await Promise.race([reading, sleep(15_000).then(() => 'still reading after 15 s')]);
  console.log(JSON.stringify({
    webhookSecret: webhook_secret,
    preferencesAgent: preferences.agent_id,
    notificationId: notification?.id,
    deliveryId: target,
    outcome: decision?.outcome,
    metadata: readBack.metadata,
    notFound,
    badMetadata,
    left,
    portalUrl,
    statuses: seen.filter((e) => e.delivery?.id === target).map((e) => e.delivery?.status),
  }));
} finally {
  herald.close();
}
