import { InvalidArgumentError } from '../../common/errors';

/**
 * A request that names a tenant anywhere (path, query, body, header, gRPC metadata) is refused rather
 * than quietly ignored, so a client that believes it can pick the tenant learns at once that it cannot.
 */
export function assertNoTenantNamed(names: Iterable<string>, where: string): void {
  for (const name of names) {
    if (isTenantName(name)) {
      throw new InvalidArgumentError(
        `"${name}" must not be sent in the ${where}: the tenant is taken from your token only`,
        name,
      );
    }
  }
}

/**
 * The letters of "tenant" in order, anything between: every name the check below refuses has them, and
 * nearly no other does. Tested first because it runs on every metadata key of every gRPC call.
 */
const TENANT_LETTERS = /t[^a-z]*e[^a-z]*n[^a-z]*a[^a-z]*n[^a-z]*t/i;

function isTenantName(name: string): boolean {
  if (!TENANT_LETTERS.test(name)) return false;
  const normalized = name
    .toLowerCase()
    .replace(/^x-/, '')
    .replace(/[^a-z]/g, '');
  return normalized === 'tenant' || normalized === 'tenantid' || normalized === 'customtenantid';
}
