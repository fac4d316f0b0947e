import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { keyIdOf, SealedValueError, SecretBox } from '../../src/storage/secret-box.js';

const keyA = Buffer.alloc(32, 1);
const keyB = Buffer.alloc(32, 2);
const here = { tenantId: 'default', agentId: 'agent-1', field: 'webhook_secret' };

function flipByteAt(stored: string, index: number): string {
  const [prefix, b64] = [stored.slice(0, stored.lastIndexOf(':') + 1), stored.slice(stored.lastIndexOf(':') + 1)];
  const bytes = Buffer.from(b64, 'base64');
  bytes[index] = bytes[index]! ^ 0x01;
  return prefix + bytes.toString('base64');
}

describe('SecretBox', () => {
  test('a sealed value opens to the same text, and names the key that sealed it', () => {
    const box = new SecretBox(keyA);
    const sealed = box.seal('whsec_abc/é', here);
    assert.match(sealed, new RegExp(`^enc:v1:${keyIdOf(keyA)}:[A-Za-z0-9+/=]+$`));
    assert.ok(!sealed.includes('whsec_abc'));
    assert.equal(box.open(sealed, here), 'whsec_abc/é');
    assert.equal(box.open(box.seal('', here), here), '');
  });

  test('every seal uses a fresh IV: the same text gives different stored values', () => {
    const box = new SecretBox(keyA);
    assert.notEqual(box.seal('same', here), box.seal('same', here));
  });

  test('a changed byte anywhere (IV, ciphertext, tag) is detected', () => {
    const box = new SecretBox(keyA);
    const sealed = box.seal('a secret value', here);
    const length = Buffer.from(sealed.slice(sealed.lastIndexOf(':') + 1), 'base64').length;
    for (const index of [0, 11, 12, length - 17, length - 1]) {
      assert.throws(() => box.open(flipByteAt(sealed, index), here), (err: unknown) => err instanceof SealedValueError && /altered, or copied/.test(err.message));
    }
  });

  test('a value copied to another agent, another tenant or another field does not open', () => {
    const box = new SecretBox(keyA);
    const sealed = box.seal('a secret value', here);
    assert.throws(() => box.open(sealed, { ...here, tenantId: 'acme' }), SealedValueError);
    assert.throws(() => box.open(sealed, { tenantId: 'default', agentId: 'agent-2', field: 'webhook_secret' }), SealedValueError);
    assert.throws(() => box.open(sealed, { tenantId: 'default', agentId: 'agent-1', field: 'webhook_headers.authorization' }), SealedValueError);
  });

  test('a value sealed with a key this box lacks fails naming the key id, never the value', () => {
    const sealed = new SecretBox(keyB).seal('top secret', here);
    for (const box of [new SecretBox(keyA), new SecretBox()]) {
      assert.throws(
        () => box.open(sealed, here),
        (err: unknown) =>
          err instanceof SealedValueError && err.code === 'FAILED_PRECONDITION' && err.message.includes(keyIdOf(keyB)) && err.message.includes('agent-1') && !err.message.includes('top secret'),
      );
    }
  });

  test('the previous key still opens what it sealed; the current key seals', () => {
    const old = new SecretBox(keyA).seal('v', here);
    const rotated = new SecretBox(keyB, keyA);
    assert.equal(rotated.open(old, here), 'v');
    assert.equal(rotated.isCurrent(old), false);
    const resealed = rotated.seal('v', here);
    assert.equal(rotated.isCurrent(resealed), true);
    assert.ok(resealed.startsWith(`enc:v1:${keyIdOf(keyB)}:`));
  });

  test('without a key values are stored as they are, and prefixed plain text cannot pass for a sealed value', () => {
    const box = new SecretBox();
    assert.equal(box.seal('whsec_x', here), 'whsec_x');
    for (const text of ['enc:v1:0123456789ab:AAAA', 'plain:x', 'enc:']) {
      const stored = box.seal(text, here);
      assert.notEqual(stored, text);
      assert.equal(box.open(stored, here), text);
      assert.equal(new SecretBox(keyA).open(stored, here), text);
    }
  });

  test('plain text stored before a key was set still opens, and is not current once a key is set', () => {
    const box = new SecretBox(keyA);
    assert.equal(box.open('whsec_legacy', here), 'whsec_legacy');
    assert.equal(box.isCurrent('whsec_legacy'), false);
    assert.ok(box.keep('whsec_legacy', here).startsWith('enc:v1:'));
  });

  test('a malformed encrypted value is refused with a clear message', () => {
    const box = new SecretBox(keyA);
    for (const stored of ['enc:v2:abc', 'enc:v1:nothex:AAAA', `enc:v1:${keyIdOf(keyA)}:AAAA`]) {
      assert.throws(() => box.open(stored, here), SealedValueError);
    }
  });
});
