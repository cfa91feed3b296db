import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { KEY_BYTES } from '../../rolloutClient/payloadEncryption/localKeyFile';

/** Makes the local stack's payload key once (like the push and issuer keys); later calls keep it. */
export function ensurePayloadKeyFile(dir: string): string {
  const file = path.join(dir, 'payload.key');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(file, `${randomBytes(KEY_BYTES).toString('base64')}\n`, { mode: 0o600 });
  }
  return file;
}
