/**
 * TLS on the gRPC port, with certificates made here by openssl: a client
 * that trusts the CA gets in, a plaintext client does not; with a client CA
 * configured, only clients presenting a certificate it signed get in.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { createHeraldClient } from '../../src/client.js';
import { codeOf, startHerald } from '../helpers/herald.js';
import { runProbe } from '../helpers/probe.js';

interface Pki {
  readonly dir: string;
  readonly ca: Buffer;
  readonly clientCert: Buffer;
  readonly clientKey: Buffer;
}

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
function makePki(t: TestContext): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'herald-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Herald test CA');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=platform-service');
  ssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.pem', '-days', '2');
  const file = (name: string): Buffer => readFileSync(join(dir, name));
  return { dir, ca: file('ca.pem'), clientCert: file('client.pem'), clientKey: file('client.key') };
}

test('with HERALD_TLS_CERT_FILE/KEY_FILE a client trusting the CA is served and a plaintext client is refused', async (t) => {
  const pki = makePki(t);
  const h = await startHerald(t, {
    env: { HERALD_WORKER: 'false', HERALD_TLS_CERT_FILE: join(pki.dir, 'server.pem'), HERALD_TLS_KEY_FILE: join(pki.dir, 'server.key') },
  });
  const secure = createHeraldClient(h.address, { credentials: grpc.credentials.createSsl(pki.ca) });
  t.after(() => secure.close());
  const saved = await secure.preferences.UpdatePreferences({ preferences: { agent_id: 'tls-agent', time_zone: 'Europe/Paris' } });
  assert.equal(saved.time_zone, 'Europe/Paris');

  // The harness's own client speaks plaintext.
  const refused = await codeOf(h.client.preferences.GetPreferences({ agent_id: 'tls-agent' }));
  assert.equal(refused.code, grpc.status.UNAVAILABLE);
});

test('with HERALD_TLS_CLIENT_CA_FILE only clients with a certificate signed by that CA are served', async (t) => {
  const pki = makePki(t);
  const h = await startHerald(t, {
    env: {
      HERALD_WORKER: 'false',
      HERALD_TLS_CERT_FILE: join(pki.dir, 'server.pem'),
      HERALD_TLS_KEY_FILE: join(pki.dir, 'server.key'),
      HERALD_TLS_CLIENT_CA_FILE: join(pki.dir, 'ca.pem'),
    },
  });
  const withCert = createHeraldClient(h.address, { credentials: grpc.credentials.createSsl(pki.ca, pki.clientKey, pki.clientCert) });
  const withoutCert = createHeraldClient(h.address, { credentials: grpc.credentials.createSsl(pki.ca) });
  t.after(() => {
    withCert.close();
    withoutCert.close();
  });
  const saved = await withCert.preferences.UpdatePreferences({ preferences: { agent_id: 'mtls-agent', max_notifications_per_hour: 3 } });
  assert.equal(saved.max_notifications_per_hour, 3);
  const refused = await codeOf(withoutCert.preferences.GetPreferences({ agent_id: 'mtls-agent' }));
  assert.equal(refused.code, grpc.status.UNAVAILABLE);
});

test('the container probe (src/healthcheck.ts) reports SERVING over TLS, and over mutual TLS with the server certificate as its own', async (t) => {
  const pki = makePki(t);
  const tlsEnv = { HERALD_TLS_CERT_FILE: join(pki.dir, 'server.pem'), HERALD_TLS_KEY_FILE: join(pki.dir, 'server.key') };
  for (const env of [tlsEnv, { ...tlsEnv, HERALD_TLS_CLIENT_CA_FILE: join(pki.dir, 'ca.pem') }]) {
    const h = await startHerald(t, { env: { HERALD_WORKER: 'false', ...env } });
    const probe = await runProbe({ GRPC_ADDRESS: h.address, ...env });
    assert.equal(probe.code, 0, probe.out);
    assert.match(probe.out, /^SERVING herald /);
    await h.app.stop(0);
  }
});
