import { destroyAwsClients } from '../../activities/awsClients';
import { createLogger } from '../../common/logger';
import { loadServerSettings } from '../../common/settings';
import { createTokenVerifier } from '../../server/auth/tokenVerifier';
import { type PlatformServer, startPlatformServer } from '../../server/platformServer';
import { localAuthSettings, stackClients, stackStore } from './env';

export interface TestServer extends PlatformServer {
  readonly store: ReturnType<typeof stackStore>;
  readonly httpUrl: string;
  readonly grpcAddress: string;
}

/** The real config service on free loopback ports, against the local stack and the local issuer. */
export async function startTestServer(): Promise<TestServer> {
  const clients = stackClients();
  const store = stackStore(clients);
  const server = await startPlatformServer({
    store,
    verifier: createTokenVerifier(localAuthSettings()),
    logger: createLogger({ component: 'test' }, 'error'),
    settings: loadServerSettings({ BIND_ADDRESS: '127.0.0.1', GRPC_PORT: '0', HTTP_PORT: '0' }),
  });
  return {
    ...server,
    store,
    httpUrl: `http://127.0.0.1:${server.httpPort}`,
    grpcAddress: `127.0.0.1:${server.grpcPort}`,
    async stop() {
      await server.stop();
      destroyAwsClients(clients);
    },
  };
}
