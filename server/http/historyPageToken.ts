import { createHash } from 'node:crypto';
import type { ConfigAddress } from '../../common/configAddress';
import { InvalidArgumentError } from '../../common/errors';

/**
 * A config history page token: where the next page starts (below the last version of this one), bound
 * to the key it was issued for, so a token of another key is refused rather than read as a position.
 * It names no tenant: the tenant always comes from the caller's token.
 */
export function historyPageToken(address: ConfigAddress, before: number): string {
  return Buffer.from(JSON.stringify({ k: fingerprint(address), b: before })).toString('base64url');
}

export function historyPageStart(address: ConfigAddress, pageToken: string | undefined): number | undefined {
  if (pageToken === undefined) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(pageToken, 'base64url').toString('utf8')) as {
      k?: unknown;
      b?: unknown;
    };
    if (parsed.k === fingerprint(address) && Number.isSafeInteger(parsed.b) && (parsed.b as number) > 1) {
      return parsed.b as number;
    }
  } catch {
    // fall through to the refusal below
  }
  throw new InvalidArgumentError(
    "pageToken does not belong to this key's history: pass the one the previous page returned",
    'pageToken',
  );
}

function fingerprint(address: ConfigAddress): string {
  return createHash('sha256')
    .update(`${address.key}\n${address.service ?? ''}`)
    .digest('base64url')
    .slice(0, 16);
}
