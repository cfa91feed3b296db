import {
  OpenAPIRegistry,
  OpenApiGeneratorV3,
  type ResponseConfig,
  type RouteConfig,
} from '@asteasolutions/zod-to-openapi';
import * as OpenApiValidator from 'express-openapi-validator';
import type { OpenAPIV3 } from 'express-openapi-validator/dist/framework/types';
import { DEFAULT_HISTORY_PAGE_SIZE, MAX_HISTORY_PAGE_SIZE } from '../../activities/storage/configStore';
import { configEntrySchema, configHistoryPageSchema } from '../../common/api/configs';
import {
  changeWindowsSchema,
  freezeSchema,
  putChangeWindowsSchema,
  putFreezeSchema,
} from '../../common/api/freezes';
import { itemsOf } from '../../common/api/lists';
import { putRolloutPlanSchema, rolloutPlanEntrySchema } from '../../common/api/plans';
import { problemSchema } from '../../common/api/problems';
import {
  actionRequestSchema,
  rolloutPageSchema,
  rolloutSchema,
  rolloutStartedSchema,
  rolloutStateSchema,
  startRolloutSchema,
  timelineEntrySchema,
} from '../../common/api/rollouts';
import { putSchemaSchema, valueSchemaSchema } from '../../common/api/schemas';
import { MAX_JSON_INTEGER, z } from '../../common/api/zod';
import { CONFIG_KEY_PATTERN, SERVICE_NAME_PATTERN } from '../../common/identifiers';
import { MAX_PLANS_PER_TENANT } from '../../common/outOfBandPlans';

/**
 * The REST API's contract, served at /openapi.json and enforced on every request by
 * express-openapi-validator: generated from the schemas of common/api, whose inferred types the server
 * and the CLI use, so a field is declared once. This module adds only the routes: paths, parameters,
 * status codes. The tenant appears nowhere: it comes from the bearer token.
 */
const registry = new OpenAPIRegistry();

registry.registerComponent('securitySchemes', 'bearer', {
  type: 'http',
  scheme: 'bearer',
  bearerFormat: 'JWT',
});

const bodyOf = (regex: RegExp) => regex.source.replace(/^\^|\$$/g, '');
const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';

/**
 * Keys are checked here only for their characters: the service's own checks (prefix, `..`) answer with
 * more precise messages than a pattern mismatch would.
 */
registry.registerComponent('parameters', 'Key', {
  name: 'key',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: CONFIG_KEY_PATTERN.source },
});
registry.registerComponent('parameters', 'Service', {
  name: 'service',
  in: 'query',
  description: 'The consuming service (required for param_config_ keys)',
  schema: { type: 'string', pattern: SERVICE_NAME_PATTERN.source },
});
const key = { $ref: '#/components/parameters/Key' };
const service = { $ref: '#/components/parameters/Service' };

const rolloutIdParameter = z.object({
  rolloutId: z
    .string()
    .regex(new RegExp(`^${UUID}~${bodyOf(CONFIG_KEY_PATTERN)}(~${bodyOf(SERVICE_NAME_PATTERN)})?$`))
    .describe("The rollout's id as the API returned it: `{runId}~{key}` or `{runId}~{key}~{service}`"),
});

const planScope = {
  params: z.object({
    selector: z
      .string()
      .regex(new RegExp(`^${bodyOf(CONFIG_KEY_PATTERN)}\\*?$`))
      .describe(
        'A `param_config_` key, or a key prefix ending in `*` (`param_config_flag_*`): the edits the plan applies to',
      ),
  }),
  query: z.object({
    service: z
      .string()
      .regex(SERVICE_NAME_PATTERN)
      .describe("Only this service's edits (default: every service of the tenant)")
      .optional(),
  }),
};

const json = (description: string, schema: z.ZodTypeAny): ResponseConfig => ({
  description,
  content: { 'application/json': { schema } },
});

const jsonBody = (schema: z.ZodTypeAny, required = true) => ({
  required,
  content: { 'application/json': { schema } },
});

const problem: ResponseConfig = {
  description: 'An RFC 9457 problem: `title` is the error code, `field` names the input at fault',
  content: { 'application/problem+json': { schema: problemSchema } },
};

/** 429: over a rate limit or quota (`limit` names it); `Retry-After` says when to try again. */
const limited: ResponseConfig = {
  ...problem,
  headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'Seconds to wait' } },
};

const errors = (...codes: number[]): Record<string, ResponseConfig> =>
  Object.fromEntries(codes.map((code) => [String(code), code === 429 ? limited : problem]));

const noContent = (description: string): ResponseConfig => ({ description });

const route = (config: RouteConfig) => registry.registerPath(config);

route({
  method: 'get',
  path: '/healthz',
  operationId: 'health',
  tags: ['health'],
  security: [],
  responses: { '200': json('The service is up', z.object({ status: z.string() })) },
});

// Config values and their versions.
route({
  method: 'get',
  path: '/v1/configs',
  operationId: 'listConfigs',
  summary: "The tenant's keys with their live versions",
  tags: ['configs'],
  parameters: [service],
  responses: { '200': json('Live entries', itemsOf(configEntrySchema)), ...errors(400, 401, 403, 429, 503) },
});

route({
  method: 'get',
  path: '/v1/configs/{key}',
  operationId: 'getConfig',
  summary: 'The live (or a given) version of one key',
  tags: ['configs'],
  parameters: [key, service],
  request: {
    query: z.object({
      version: z.number().int().min(1).max(MAX_JSON_INTEGER).optional(),
    }),
  },
  responses: { '200': json('The entry', configEntrySchema), ...errors(400, 401, 403, 404, 429, 503) },
});

route({
  method: 'get',
  path: '/v1/configs/{key}/history',
  operationId: 'getConfigHistory',
  summary: 'The kept versions of one key, newest first, a page at a time',
  tags: ['configs'],
  parameters: [key, service],
  request: {
    query: z.object({
      pageSize: z.number().int().min(1).max(MAX_HISTORY_PAGE_SIZE).default(DEFAULT_HISTORY_PAGE_SIZE),
      pageToken: z.string().max(256).describe("The previous page's nextPageToken").optional(),
    }),
  },
  responses: {
    '200': json('A page of versions', configHistoryPageSchema),
    ...errors(400, 401, 403, 404, 429, 503),
  },
});

// Value schemas.
route({
  method: 'get',
  path: '/v1/schemas',
  operationId: 'listSchemas',
  summary: "The JSON Schemas the tenant's keys must match",
  tags: ['schemas'],
  responses: { '200': json('Schemas', itemsOf(valueSchemaSchema)), ...errors(401, 403, 429, 503) },
});

route({
  method: 'get',
  path: '/v1/schemas/{key}',
  operationId: 'getSchema',
  summary: "One key's schema",
  tags: ['schemas'],
  parameters: [key],
  responses: { '200': json('The schema', valueSchemaSchema), ...errors(400, 401, 403, 404, 429, 503) },
});

route({
  method: 'put',
  path: '/v1/schemas/{key}',
  operationId: 'putSchema',
  summary:
    'Set the JSON Schema (2020-12, or draft-07 by `$schema`) that every new value and every rollout of the key must match',
  tags: ['schemas'],
  parameters: [key],
  request: { body: jsonBody(putSchemaSchema) },
  responses: {
    '200': json('The schema as stored', valueSchemaSchema),
    ...errors(400, 401, 403, 409, 422, 429, 503),
  },
});

route({
  method: 'delete',
  path: '/v1/schemas/{key}',
  operationId: 'deleteSchema',
  summary: "Remove a key's schema: its values are then checked only for size and, for JSON keys, syntax",
  tags: ['schemas'],
  parameters: [key],
  responses: { '204': noContent('Removed'), ...errors(400, 401, 403, 404, 429, 503) },
});

// Out-of-band plans.
route({
  method: 'get',
  path: '/v1/rollout-plans',
  operationId: 'listRolloutPlans',
  summary: "The plans the tenant's out-of-band Parameter Store edits roll out with",
  tags: ['rollout-plans'],
  responses: { '200': json('Plans', itemsOf(rolloutPlanEntrySchema)), ...errors(401, 403, 429, 503) },
});

route({
  method: 'get',
  path: '/v1/rollout-plans/{selector}',
  operationId: 'getRolloutPlan',
  summary: "One selector's out-of-band plan",
  tags: ['rollout-plans'],
  request: planScope,
  responses: { '200': json('The plan', rolloutPlanEntrySchema), ...errors(400, 401, 403, 404, 429, 503) },
});

route({
  method: 'put',
  path: '/v1/rollout-plans/{selector}',
  operationId: 'putRolloutPlan',
  summary:
    'Set the plan an out-of-band Parameter Store edit of a matching key rolls out with. The Lambda takes ' +
    "the exact key's plan (the service's before every service's), else the longest matching prefix's, " +
    `else its own default. At most ${MAX_PLANS_PER_TENANT} plans per tenant (409 PlanLimitReached beyond).`,
  tags: ['rollout-plans'],
  request: { ...planScope, body: jsonBody(putRolloutPlanSchema) },
  responses: {
    '200': json('The plan as stored, with who set it and when', rolloutPlanEntrySchema),
    ...errors(400, 401, 403, 409, 429, 503),
  },
});

route({
  method: 'delete',
  path: '/v1/rollout-plans/{selector}',
  operationId: 'deleteRolloutPlan',
  summary: "Remove a selector's plan: its edits take the next most specific plan, or the default",
  tags: ['rollout-plans'],
  request: planScope,
  responses: { '204': noContent('Removed'), ...errors(400, 401, 403, 404, 429, 503) },
});

// Freezes and change windows.
/** GET, PUT and DELETE of one freeze; `who` says whose rollouts it holds and who may set it. */
function freezeRoutes(path: string, scope: 'tenant' | 'platform', who: string): void {
  const name = scope === 'platform' ? 'PlatformFreeze' : 'TenantFreeze';
  route({
    method: 'get',
    path,
    operationId: `get${name}`,
    summary: `Whether ${scope === 'platform' ? 'the platform' : 'the tenant'} is frozen, by whom, since when and why`,
    tags: ['freezes'],
    responses: { '200': json('The freeze', freezeSchema), ...errors(401, 403, 429, 503) },
  });
  route({
    method: 'put',
    path,
    operationId: `put${name}`,
    summary:
      `Freeze ${who}. New rollouts are refused (409 Frozen); running ones pause at their next wave boundary ` +
      'and resume once it is lifted',
    tags: ['freezes'],
    request: { body: jsonBody(putFreezeSchema) },
    responses: { '200': json('The freeze as stored', freezeSchema), ...errors(400, 401, 403, 429, 503) },
  });
  route({
    method: 'delete',
    path,
    operationId: `delete${name}`,
    summary: 'Lift the freeze: held rollouts resume (404 when not frozen)',
    tags: ['freezes'],
    responses: { '204': noContent('Lifted'), ...errors(401, 403, 404, 429, 503) },
  });
}

freezeRoutes('/v1/freeze', 'tenant', "the caller's tenant: its release managers set and lift it");
freezeRoutes(
  '/v1/platform/freeze',
  'platform',
  'every tenant: only platform administrators (group config-platform-admins) set and lift it',
);

route({
  method: 'get',
  path: '/v1/change-windows',
  operationId: 'getChangeWindows',
  summary: "The tenant's change windows (404 when none: rollouts may run at any time)",
  tags: ['freezes'],
  responses: {
    '200': json('The windows, with who set them and when', changeWindowsSchema),
    ...errors(401, 403, 404, 429, 503),
  },
});

route({
  method: 'put',
  path: '/v1/change-windows',
  operationId: 'putChangeWindows',
  summary:
    "Set the UTC windows in which waves of the tenant's rollouts may start; outside them a rollout waits " +
    'durably for the next one to open',
  tags: ['freezes'],
  request: { body: jsonBody(putChangeWindowsSchema) },
  responses: {
    '200': json('The windows as stored', changeWindowsSchema),
    ...errors(400, 401, 403, 429, 503),
  },
});

route({
  method: 'delete',
  path: '/v1/change-windows',
  operationId: 'deleteChangeWindows',
  summary: 'Remove the windows: rollouts may run at any time',
  tags: ['freezes'],
  responses: { '204': noContent('Removed'), ...errors(401, 403, 404, 429, 503) },
});

// Rollouts.
route({
  method: 'post',
  path: '/v1/rollouts',
  operationId: 'startRollout',
  summary: 'Start a staged rollout of a new value (or an existing version) of one key',
  tags: ['rollouts'],
  request: { body: jsonBody(startRolloutSchema) },
  responses: {
    '202': {
      ...json('Started; follow it at /v1/rollouts/{rolloutId}', rolloutStartedSchema),
      headers: { Location: { schema: { type: 'string' } } },
    },
    ...errors(400, 401, 403, 404, 409, 413, 422, 429, 503),
  },
});

route({
  method: 'get',
  path: '/v1/rollouts',
  operationId: 'listRollouts',
  summary: "The tenant's rollouts, newest first",
  tags: ['rollouts'],
  request: {
    query: z.object({
      key: z.string().regex(CONFIG_KEY_PATTERN).optional(),
      state: rolloutStateSchema.optional(),
      pageSize: z.number().int().min(1).max(100).default(20),
      pageToken: z.string().max(4096).optional(),
    }),
  },
  responses: { '200': json('A page of rollouts', rolloutPageSchema), ...errors(400, 401, 403, 429, 503) },
});

route({
  method: 'get',
  path: '/v1/rollouts/{rolloutId}',
  operationId: 'getRollout',
  summary: "A rollout's progress",
  tags: ['rollouts'],
  request: { params: rolloutIdParameter },
  responses: { '200': json('Progress', rolloutSchema), ...errors(400, 401, 403, 404, 429, 503) },
});

const actions = {
  approve: 'Approve the wave the rollout waits on',
  pause: 'Hold the rollout before its next wave',
  resume: 'Continue a paused rollout',
  abort: 'Stop the rollout and roll back',
} as const;

for (const [action, summary] of Object.entries(actions)) {
  route({
    method: 'post',
    path: `/v1/rollouts/{rolloutId}/${action}`,
    operationId: `${action}Rollout`,
    summary,
    tags: ['rollouts'],
    request: { params: rolloutIdParameter, body: jsonBody(actionRequestSchema, false) },
    responses: {
      '200': json('Accepted; the progress it led to', rolloutSchema),
      ...errors(400, 401, 403, 404, 409, 429, 503),
    },
  });
}

route({
  method: 'get',
  path: '/v1/rollouts/{rolloutId}/history',
  operationId: 'getRolloutHistory',
  summary: "A timeline built from the rollout's workflow history",
  tags: ['rollouts'],
  request: { params: rolloutIdParameter },
  responses: {
    '200': json('Timeline, oldest first', itemsOf(timelineEntrySchema)),
    ...errors(400, 401, 403, 404, 429, 503),
  },
});

route({
  method: 'get',
  path: '/v1/rollouts/{rolloutId}/events',
  operationId: 'streamRollout',
  summary:
    'Server-sent events: `progress` (a Rollout) whenever it changes, `end` ({state}) when the rollout is over, ' +
    '`error` ({detail}) if it can no longer be read',
  tags: ['rollouts'],
  request: { params: rolloutIdParameter },
  responses: {
    '200': { description: 'An event stream', content: { 'text/event-stream': { schema: z.string() } } },
    ...errors(400, 401, 403, 404, 429, 503),
  },
});

/**
 * zod-to-openapi 7 writes every plain union as `anyOf`. The contract's unions have disjoint members, so
 * `oneOf` accepts exactly the same requests, and it is what the document has always said: clients and
 * the validator's messages stay as they were.
 */
function unionsAsOneOf(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(unionsAsOneOf);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node).map(([name, value]) => [name === 'anyOf' ? 'oneOf' : name, unionsAsOneOf(value)]),
  );
}

const generated = new OpenApiGeneratorV3(registry.definitions).generateDocument({
  openapi: '3.0.3',
  info: {
    title: 'Config Rollout Platform API',
    version: '1.0.0',
    description:
      'Per-tenant configuration and its staged rollouts. Every /v1 call needs `Authorization: Bearer <Cognito JWT>`; ' +
      'the tenant and the actor come from the token only. Release managers (group release-managers) act; ' +
      'operators read config and rollouts; services read config only.',
  },
  servers: [{ url: '/' }],
  security: [{ bearer: [] }],
  tags: [
    { name: 'configs' },
    { name: 'schemas' },
    { name: 'rollouts' },
    { name: 'rollout-plans' },
    { name: 'health' },
    { name: 'freezes' },
  ],
});

// Through JSON, as a client reads it: the generator leaves keys whose value is undefined.
export const openApiDocument = unionsAsOneOf(JSON.parse(JSON.stringify(generated))) as OpenAPIV3.DocumentV3;

/** What every request passes before its handler: held to the contract, answered with its own errors. */
export function contractValidator(): ReturnType<typeof OpenApiValidator.middleware> {
  return OpenApiValidator.middleware({
    apiSpec: openApiDocument,
    validateRequests: { allowUnknownQueryParameters: false },
    validateResponses: false,
    // Authentication is ours (aws-jwt-verify), with its own precise errors.
    validateSecurity: false,
  });
}
