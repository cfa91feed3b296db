import { type Action, authorize, bearerToken, type Identity } from './identity';
import type { TokenVerifier } from './tokenVerifier';

/** Verifies a request's bearer token and checks the caller may take the action. */
export class Authenticator {
  constructor(private readonly verifier: TokenVerifier) {}

  async authenticate(authorizationHeader: unknown, action: Action): Promise<Identity> {
    const identity = await this.verifier.verify(bearerToken(authorizationHeader));
    authorize(identity, action);
    return identity;
  }
}
