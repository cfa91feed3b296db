/**
 * Where a Cognito token carries what the platform relies on: the verifier reads these claims and the
 * local issuer (scripts/stack/localIssuer.ts) writes them, so the two cannot drift apart.
 */
export const TENANT_CLAIM = 'custom:tenantId';
export const GROUPS_CLAIM = 'cognito:groups';

export function cognitoIssuer(userPoolId: string): string {
  const region = userPoolId.split('_')[0];
  return `https://cognito-idp.${region}.amazonaws.com/${userPoolId}`;
}
