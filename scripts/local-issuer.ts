import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { DEFAULT_PORTS } from '../common/constants';
import { hostedUiStandIn } from './stack/hostedUiStandIn';
import { ensureIssuerKeys } from './stack/localIssuer';

/**
 * Serves the local issuer's public keys on loopback, where the token verifier fetches them, and the
 * stand-in for Cognito's hosted UI the web console signs in through (scripts/stack/hostedUiStandIn.ts).
 */
const port = Number(process.env.ISSUER_PORT ?? DEFAULT_PORTS.issuer);
const keys = ensureIssuerKeys();
const jwks = JSON.stringify(keys.jwks);
const hostedUi = hostedUiStandIn(keys);

const server = createServer((request, response) => {
  void hostedUi(request, response).then(
    (handled) => handled || serveKeys(request, response),
    () => response.writeHead(500).end(),
  );
});

function serveKeys(request: IncomingMessage, response: ServerResponse): void {
  if (request.method === 'GET' && request.url === '/.well-known/jwks.json') {
    response.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
  } else if (request.method === 'GET' && request.url === '/healthz') {
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  } else {
    response.writeHead(404).end();
  }
}

server.listen(port, '127.0.0.1', () =>
  console.log(`local issuer JWKS on http://127.0.0.1:${port}/.well-known/jwks.json`),
);
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.on(signal, () => server.close(() => process.exit(0)));
