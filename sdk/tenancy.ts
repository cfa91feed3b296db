import { PermissionDeniedError } from '../common/errors';

/** A silo instance serves one tenant; a pooled one serves every tenant. */
export type InstanceTenancy =
  | { readonly kind: 'silo'; readonly tenantId: string }
  | { readonly kind: 'pool' };

/** Refuses a tenant a silo instance does not serve, whether it is asked for by the app or pushed. */
export function assertServesTenant(
  tenancy: InstanceTenancy,
  tenantId: string,
  service: string,
  field: string,
): void {
  if (tenancy.kind === 'silo' && tenantId !== tenancy.tenantId) {
    throw new PermissionDeniedError(
      `this ${service} instance is a silo for tenant "${tenancy.tenantId}" and does not serve tenant "${tenantId}"`,
      field,
    );
  }
}
