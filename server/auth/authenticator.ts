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
    return this.admit(await this.verifier.verify(bearerToken(authorizationHeader)), action);
  }

  /**
   * The same, answered at once when the token was verified before and still holds; undefined (nothing
   * counted) when it needs `authenticate`. Lets a read from memory finish without a promise.
   */
  authenticateFromMemory(authorizationHeader: unknown, action: Action): Identity | undefined {
    const identity = this.verifier.verifyCached?.(bearerToken(authorizationHeader));
    return identity && this.admit(identity, action);
  }

  private admit(identity: Identity, action: Action): Identity {
    this.limits?.admit(identity);
    authorize(identity, action);
    return identity;
  }
}
