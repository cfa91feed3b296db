import { ensureIssuerKeys, issuerDir } from '../server/auth/localIssuer';

const keys = ensureIssuerKeys();
console.log(`local issuer keys ready in ${issuerDir()} (kid ${keys.kid.slice(0, 12)}…)`);
