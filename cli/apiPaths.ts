/** The REST API's resource paths (server/http/openapi.ts), with the caller's text escaped. */

export function configPath(key: string): string {
  return `/v1/configs/${encodeURIComponent(key)}`;
}

export function rolloutPath(rolloutId: string): string {
  return `/v1/rollouts/${encodeURIComponent(rolloutId)}`;
}

export function schemaPath(key: string): string {
  return `/v1/schemas/${encodeURIComponent(key)}`;
}

export function rolloutPlanPath(selector: string): string {
  return `/v1/rollout-plans/${encodeURIComponent(selector)}`;
}
