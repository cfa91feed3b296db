import { LOCAL_ISSUER } from '../../common/constants';
import { BackendUnavailableError } from '../../common/errors';
import { loadAuthSettings } from '../../common/settings';
import { createTokenVerifier } from '../../server/auth/tokenVerifier';
import { validToken } from '../support/tokens';
import { closedPort } from '../support/ports';

test('when the signing keys cannot be fetched, a valid token gets BackendUnavailable, not Unauthenticated', async () => {
  const verifier = createTokenVerifier(
    loadAuthSettings({
      COGNITO_USER_POOL_ID: LOCAL_ISSUER.userPoolId,
      COGNITO_CLIENT_ID: LOCAL_ISSUER.clientId,
      LOCAL_ISSUER_JWKS_URL: `http://127.0.0.1:${await closedPort()}/.well-known/jwks.json`,
    }),
  );
  const outcome = verifier.verify(validToken({ tenantId: 'acme', groups: ['operators'] }));
  await expect(outcome).rejects.toBeInstanceOf(BackendUnavailableError);
  await expect(outcome).rejects.toThrow(/is the stack up/);
});
