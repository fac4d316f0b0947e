/**
 * TLS on the gRPC port, with certificates made here in Node (keys from
 * node:crypto, certificates signed with node-forge, so no openssl binary): a
 * client that trusts the CA gets in, a plaintext client does not; with a
 * client CA configured, only clients presenting a certificate it signed get in.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { createHeraldClient } from '../../src/client.js';
import { codeOf, startHerald } from '../helpers/herald.js';
import { issue, type Issued } from '../helpers/certificates.js';
import { runProbe } from '../helpers/probe.js';

interface Pki {
  readonly dir: string;
  readonly ca: Buffer;
  readonly clientCert: Buffer;
  readonly clientKey: Buffer;
}

/** A throwaway CA, a server certificate for 127.0.0.1 and localhost, and a client certificate, both signed by the CA. */
function makePki(t: TestContext): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'herald-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = issue({
    commonName: 'Herald test CA',
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const leaf = (commonName: string, extensions: object[]): Issued =>
    issue(
      {
        commonName,
        extensions: [{ name: 'basicConstraints', cA: false }, { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true }, ...extensions],
      },
      ca,
    );
  const server = leaf('localhost', [
    // clientAuth too: the container probe presents the server's own certificate under mutual TLS.
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    // type 7 is an IP address, type 2 a DNS name (RFC 5280 GeneralName).
    { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] },
  ]);
  const client = leaf('platform-service', [{ name: 'extKeyUsage', clientAuth: true }]);
  writeFileSync(join(dir, 'ca.pem'), ca.certPem);
  writeFileSync(join(dir, 'server.pem'), server.certPem);
  writeFileSync(join(dir, 'server.key'), server.keyPem, { mode: 0o600 });
  return { dir, ca: Buffer.from(ca.certPem), clientCert: Buffer.from(client.certPem), clientKey: Buffer.from(client.keyPem) };
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
