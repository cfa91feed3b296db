import { createServer } from 'node:net';
import { LOCAL_ISSUER } from '../../common/constants';
import { BackendUnavailableError } from '../../common/errors';
import { loadAuthSettings } from '../../common/settings';
import { createTokenVerifier } from '../../server/auth/tokenVerifier';
import { validToken } from '../support/tokens';

/** A port that nothing listens on: bind one, note it, close it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

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
