import type { RequestLimits } from '../limits/requestLimits';
import { type Action, authorize, bearerToken, type Identity } from './identity';
import type { TokenVerifier } from './tokenVerifier';

/**
 * Verifies a request's bearer token, counts it against the caller's rate limits, and checks the caller
 * may take the action. Refused requests count too: a caller cannot spin on calls it is denied.
 */
export class Authenticator {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly limits?: RequestLimits,
  ) {}

  async authenticate(authorizationHeader: unknown, action: Action): Promise<Identity> {
    const identity = await this.verifier.verify(bearerToken(authorizationHeader));
    this.limits?.admit(identity);
    authorize(identity, action);
    return identity;
  }
}
