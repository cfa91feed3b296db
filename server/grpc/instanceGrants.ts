import type { KeyObject } from 'node:crypto';
import { CONFIG_SERVICE_REPLICAS } from '../../common/cloudMap';
import { InvalidArgumentError, PermissionDeniedError } from '../../common/errors';
import { assertServiceName } from '../../common/identifiers';
import { signInstanceGrant } from '../../common/instanceGrant';
import type { IssueInstanceGrantRequest__Output } from '../../gen/proto/configsvc/v1/IssueInstanceGrantRequest';
import type { IssueInstanceGrantResponse } from '../../gen/proto/configsvc/v1/IssueInstanceGrantResponse';
import type { Identity } from '../auth/identity';

const SEALING_KEY_BYTES = 32;

/**
 * Issues instance grants (common/instanceGrant.ts). The tenancy granted comes from the caller's token,
 * never from the request alone: a `services` token gets a silo grant for its own tenant; only the
 * platform's `pool-services` group gets a pool grant, which receives every tenant's values.
 */
export class InstanceGrantIssuer {
  constructor(
    private readonly signingKey: KeyObject,
    private readonly ttlSeconds: number,
  ) {}

  issue(identity: Identity, request: IssueInstanceGrantRequest__Output): IssueInstanceGrantResponse {
    assertServiceName(request.service);
    // A registration there would be told of every tenant's promotions, and would slow every rollout
    // that waits for it to answer.
    if (request.service === CONFIG_SERVICE_REPLICAS) {
      throw new PermissionDeniedError(
        `service "${CONFIG_SERVICE_REPLICAS}" is reserved for the config service's own replicas`,
        'service',
      );
    }
    if (request.sealing_key.length !== SEALING_KEY_BYTES) {
      throw new InvalidArgumentError('sealing_key must be a raw X25519 public key (32 bytes)', 'sealing_key');
    }
    const sealingKey = request.sealing_key.toString('base64url');
    if (request.tenancy === 'pool') {
      if (!identity.roles.includes('pool_service')) {
        throw new PermissionDeniedError(
          'a pool grant receives every tenant’s config: it requires the platform’s pool-services group',
          'tenancy',
        );
      }
      return this.sign({ service: request.service, tenancy: 'pool', sealingKey });
    }
    if (request.tenancy !== 'silo') {
      throw new InvalidArgumentError('tenancy must be "silo" or "pool"', 'tenancy');
    }
    if (!identity.roles.includes('service')) {
      throw new PermissionDeniedError('a silo grant requires the tenant’s services group', 'tenancy');
    }
    return this.sign({ service: request.service, tenancy: 'silo', tenantId: identity.tenantId, sealingKey });
  }

  private sign(grant: Parameters<typeof signInstanceGrant>[1]): IssueInstanceGrantResponse {
    const { token, expiresAt } = signInstanceGrant(this.signingKey, grant, this.ttlSeconds);
    return { grant: token, expires_at: expiresAt };
  }
}
