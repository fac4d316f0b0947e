/**
 * Throwaway X.509 certificates for tests, made in Node (keys from node:crypto,
 * certificates assembled and signed with node-forge), so that no test needs
 * the openssl binary.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface Issued {
  readonly cert: forge.pki.Certificate;
  readonly key: forge.pki.rsa.PrivateKey;
  readonly certPem: string;
  readonly keyPem: string;
}

/** Who a certificate is for (its common name) and what it may be used for (its X.509 v3 extensions). */
export interface Profile {
  readonly commonName: string;
  readonly extensions: object[];
}

/**
 * Issues a certificate for a fresh RSA key, valid from an hour ago for two days,
 * signed by `issuer` (self-signed when absent) with SHA-256.
 */
export function issue(profile: Profile, issuer?: Issued): Issued {
  // node:crypto makes the key natively; forge only assembles and signs the certificate.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const key = forge.pki.privateKeyFromPem(keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  // A positive serial: DER integers are signed, so the top bit of the first byte stays clear.
  cert.serialNumber = `7${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 3_600_000);
  cert.validity.notAfter = new Date(Date.now() + 2 * 86_400_000);
  const subject = [{ name: 'commonName', value: profile.commonName }];
  cert.setSubject(subject);
  cert.setIssuer(issuer === undefined ? subject : issuer.cert.subject.attributes);
  cert.setExtensions([
    ...profile.extensions,
    { name: 'subjectKeyIdentifier' },
    ...(issuer === undefined ? [] : [{ name: 'authorityKeyIdentifier', keyIdentifier: issuer.cert.generateSubjectKeyIdentifier().getBytes() }]),
  ]);
  cert.sign(issuer?.key ?? key, forge.md.sha256.create());
  return { cert, key, certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** A self-signed server certificate for `dnsName`. */
export function selfSignedFor(dnsName: string): { certPem: string; keyPem: string } {
  const { certPem, keyPem } = issue({
    commonName: dnsName,
    extensions: [
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: dnsName }] },
    ],
  });
  return { certPem, keyPem };
}
