import type { Tenancy } from '../../common/cloudMap';
import { signInstanceGrant } from '../../common/instanceGrant';
import { keyFromFile } from '../../common/keyFiles';
import { generateSealingKeys, type SealingKeyPair } from '../../common/sealedValue';
import { loadServerSettings } from '../../common/settings';

/**
 * An instance grant as the stack's config service would issue it (IssueInstanceGrant), with the
 * sealing keys it names: for registrations a test writes into Cloud Map itself.
 */
export function grantFor(grant: {
  readonly service: string;
  readonly tenancy: Tenancy;
  readonly tenantId?: string;
}): { readonly token: string; readonly sealingKey: string; readonly sealingKeys: SealingKeyPair } {
  const sealingKeys = generateSealingKeys();
  const signingKey = keyFromFile(
    loadServerSettings().instanceGrantSigningKeyFile,
    'private',
    'INSTANCE_GRANT_SIGNING_KEY_FILE',
  );
  const { token } = signInstanceGrant(signingKey, { ...grant, sealingKey: sealingKeys.publicKey });
  return { token, sealingKey: sealingKeys.publicKey, sealingKeys };
}
