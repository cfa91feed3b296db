import { ensureIssuerKeys, issuerDir } from './stack/localIssuer';

const keys = ensureIssuerKeys();
console.log(`local issuer keys ready in ${issuerDir()} (kid ${keys.kid.slice(0, 12)}…)`);
