import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StackError } from './errors';

/**
 * The local stack's own certificate authority, so TLS between the worker and instances is tried for
 * real: a CA in `.local/tls/` and certificates it issues (P-256, with the DNS names asked for). Made
 * with the machine's openssl; on AWS the deployment's CA (ACM Private CA, a mesh) takes its place.
 */
export interface IssuedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface LocalCa {
  readonly caPem: string;
  /** A certificate for `name`, valid for server and client authentication, naming `dnsNames`. */
  issue(name: string, dnsNames: readonly string[]): IssuedCertificate;
}

const CA_DAYS = '3650';
const LEAF_DAYS = '825';

/** The CA in `dir` (made on first use; later calls reuse it). */
export function localCa(dir: string): LocalCa {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caKey = path.join(dir, 'ca.key');
  const caCert = path.join(dir, 'ca.pem');
  if (!existsSync(caCert)) {
    openssl([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      caKey,
      '-out',
      caCert,
      '-days',
      CA_DAYS,
      '-subj',
      '/CN=config-rollout local CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
  }
  return {
    caPem: readFileSync(caCert, 'utf8'),
    issue(name, dnsNames) {
      const base = path.join(dir, name.replace(/[^A-Za-z0-9_.-]/g, '_'));
      const extensions = `${base}.ext`;
      writeFileSync(
        extensions,
        `subjectAltName=${dnsNames.map((dns) => `DNS:${dns}`).join(',')}\n` +
          'extendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n',
      );
      openssl([
        'req',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        `${base}.key`,
        '-out',
        `${base}.csr`,
        '-subj',
        `/CN=${name}`,
      ]);
      openssl([
        'x509',
        '-req',
        '-in',
        `${base}.csr`,
        '-CA',
        caCert,
        '-CAkey',
        caKey,
        '-CAcreateserial',
        '-out',
        `${base}.pem`,
        '-days',
        LEAF_DAYS,
        '-extfile',
        extensions,
      ]);
      return { certPem: readFileSync(`${base}.pem`, 'utf8'), keyPem: readFileSync(`${base}.key`, 'utf8') };
    },
  };
}

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new StackError(
      `openssl ${args[0]} failed (the local CA needs Debian's openssl package): ${stderr ?? String(error)}`,
    );
  }
}
