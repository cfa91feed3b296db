import type { OpenAPIV3 } from 'express-openapi-validator/dist/framework/types';
import { CONFIG_KEY_PATTERN, SERVICE_NAME_PATTERN } from '../../common/identifiers';
import { ALARM_NAMESPACE, MAX_ALARM_NAME_LENGTH, MAX_ALARM_SELECTORS } from '../../common/alarms';
import { CANARY_DEFAULTS, MAX_BAKE_SECONDS, MAX_PAUSE_SECONDS_LIMIT } from '../../common/rollout';
import {
  MAX_CANARY_CONFIDENCE,
  MAX_CANARY_SAMPLES,
  MIN_CANARY_CONFIDENCE,
  MIN_CANARY_SAMPLES,
} from '../../common/canaryAnalysis';
import { MAX_PLANS_PER_TENANT } from '../../common/outOfBandPlans';
import { MAX_CHANGE_WINDOWS, MAX_FREEZE_REASON_LENGTH, WEEKDAYS } from '../../common/freezes';
import {
  DEFAULT_SHAPE_MAX_FACTOR,
  MAX_SHAPE_FACTOR_LIMIT,
  SHAPE_BYTES_FLOOR,
  SHAPE_COUNT_FLOOR,
} from '../../common/shapeGuard';
import { DEFAULT_HISTORY_PAGE_SIZE, MAX_HISTORY_PAGE_SIZE } from '../../activities/storage/configStore';

/**
 * The REST API's contract, served at /openapi.json and enforced on every request by
 * express-openapi-validator. The tenant appears nowhere: it comes from the bearer token.
 */
const patternOf = (regex: RegExp) => regex.source;

/**
 * Keys are checked here only for their characters: the service's own checks (prefix, `..`) answer
 * with more precise messages than a pattern mismatch would.
 */
const KEY_PATTERN = patternOf(CONFIG_KEY_PATTERN);
const bodyOf = (regex: RegExp) => regex.source.replace(/^\^|\$$/g, '');
const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';

const problem: OpenAPIV3.ResponseObject = {
  description: 'An RFC 9457 problem: `title` is the error code, `field` names the input at fault',
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
};

/** A 200 answer of `{ items: [...] }` (and optional extra properties, such as a page token). */
const listOf = (
  schema: string,
  description: string,
  extra: Record<string, OpenAPIV3.SchemaObject> = {},
): OpenAPIV3.ResponseObject => ({
  description,
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: ['items'],
        properties: { items: { type: 'array', items: { $ref: `#/components/schemas/${schema}` } }, ...extra },
      },
    },
  },
});

/** 429: over a rate limit or quota (`limit` names it); `Retry-After` says when to try again. */
const limited: OpenAPIV3.ResponseObject = {
  ...problem,
  headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'Seconds to wait' } },
};

const errors = (...codes: number[]): Record<string, OpenAPIV3.ResponseObject> =>
  Object.fromEntries(codes.map((code) => [String(code), code === 429 ? limited : problem]));

const valueSchemaResponse = (description: string): OpenAPIV3.ResponseObject => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/ValueSchema' } } },
});

const rolloutPlanResponse = (description: string): OpenAPIV3.ResponseObject => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/RolloutPlanEntry' } } },
});

/** An alarm's name (or the start of one) below the tenant's alarm namespace. */
const alarmNameSchema: OpenAPIV3.SchemaObject = {
  type: 'string',
  minLength: 1,
  maxLength: MAX_ALARM_NAME_LENGTH,
  pattern: '^[A-Za-z0-9][A-Za-z0-9_.:/-]*$',
};

const planScopeParameters: OpenAPIV3.ParameterObject[] = [
  {
    name: 'selector',
    in: 'path',
    required: true,
    description:
      'A `param_config_` key, or a key prefix ending in `*` (`param_config_flag_*`): the edits the plan applies to',
    schema: { type: 'string', pattern: `^${bodyOf(CONFIG_KEY_PATTERN)}\\*?$` },
  },
  {
    name: 'service',
    in: 'query',
    description: "Only this service's edits (default: every service of the tenant)",
    schema: { type: 'string', pattern: patternOf(SERVICE_NAME_PATTERN) },
  },
];

const jsonResponse = (description: string, schema: string): OpenAPIV3.ResponseObject => ({
  description,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } },
});

/** GET, PUT and DELETE of one freeze; `who` says whose rollouts it holds and who may set it. */
const freezePaths = (scope: 'tenant' | 'platform', who: string): OpenAPIV3.PathItemObject => {
  const name = scope === 'platform' ? 'PlatformFreeze' : 'TenantFreeze';
  return {
    get: {
      operationId: `get${name}`,
      summary: `Whether ${scope === 'platform' ? 'the platform' : 'the tenant'} is frozen, by whom, since when and why`,
      tags: ['freezes'],
      responses: { '200': jsonResponse('The freeze', 'Freeze'), ...errors(401, 403, 429, 503) },
    },
    put: {
      operationId: `put${name}`,
      summary:
        `Freeze ${who}. New rollouts are refused (409 Frozen); running ones pause at their next wave boundary ` +
        'and resume once it is lifted',
      tags: ['freezes'],
      requestBody: {
        required: true,
        content: { 'application/json': { schema: { $ref: '#/components/schemas/PutFreeze' } } },
      },
      responses: {
        '200': jsonResponse('The freeze as stored', 'Freeze'),
        ...errors(400, 401, 403, 429, 503),
      },
    },
    delete: {
      operationId: `delete${name}`,
      summary: 'Lift the freeze: held rollouts resume (404 when not frozen)',
      tags: ['freezes'],
      responses: { '204': { description: 'Lifted' }, ...errors(401, 403, 404, 429, 503) },
    },
  };
};

const rolloutIdParameter: OpenAPIV3.ParameterObject = {
  name: 'rolloutId',
  in: 'path',
  required: true,
  description: "The rollout's id as the API returned it: `{runId}~{key}` or `{runId}~{key}~{service}`",
  schema: {
    type: 'string',
    pattern: `^${UUID}~${bodyOf(CONFIG_KEY_PATTERN)}(~${bodyOf(SERVICE_NAME_PATTERN)})?$`,
  },
};

const action = (name: string, summary: string): OpenAPIV3.PathItemObject => ({
  post: {
    operationId: `${name}Rollout`,
    summary,
    tags: ['rollouts'],
    parameters: [rolloutIdParameter],
    requestBody: {
      required: false,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/ActionRequest' } } },
    },
    responses: {
      '200': {
        description: 'Accepted; the progress it led to',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Rollout' } } },
      },
      ...errors(400, 401, 403, 404, 409, 429, 503),
    },
  },
});

export const openApiDocument: OpenAPIV3.DocumentV3 = {
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
  paths: {
    '/healthz': {
      get: {
        operationId: 'health',
        tags: ['health'],
        security: [],
        responses: {
          '200': {
            description: 'The service is up',
            content: {
              'application/json': {
                schema: { type: 'object', required: ['status'], properties: { status: { type: 'string' } } },
              },
            },
          },
        },
      },
    },
    '/v1/configs': {
      get: {
        operationId: 'listConfigs',
        summary: "The tenant's keys with their live versions",
        tags: ['configs'],
        parameters: [{ $ref: '#/components/parameters/Service' }],
        responses: {
          '200': listOf('ConfigEntry', 'Live entries'),
          ...errors(400, 401, 403, 429, 503),
        },
      },
    },
    '/v1/configs/{key}': {
      get: {
        operationId: 'getConfig',
        summary: 'The live (or a given) version of one key',
        tags: ['configs'],
        parameters: [
          { $ref: '#/components/parameters/Key' },
          { $ref: '#/components/parameters/Service' },
          {
            name: 'version',
            in: 'query',
            schema: { type: 'integer', minimum: 1, maximum: 9007199254740991 },
          },
        ],
        responses: {
          '200': {
            description: 'The entry',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/ConfigEntry' } } },
          },
          ...errors(400, 401, 403, 404, 429, 503),
        },
      },
    },
    '/v1/configs/{key}/history': {
      get: {
        operationId: 'getConfigHistory',
        summary: 'The kept versions of one key, newest first, a page at a time',
        tags: ['configs'],
        parameters: [
          { $ref: '#/components/parameters/Key' },
          { $ref: '#/components/parameters/Service' },
          {
            name: 'pageSize',
            in: 'query',
            schema: {
              type: 'integer',
              minimum: 1,
              maximum: MAX_HISTORY_PAGE_SIZE,
              default: DEFAULT_HISTORY_PAGE_SIZE,
            },
          },
          {
            name: 'pageToken',
            in: 'query',
            description: "The previous page's nextPageToken",
            schema: { type: 'string', maxLength: 256 },
          },
        ],
        responses: {
          '200': listOf('ConfigVersion', 'A page of versions', { nextPageToken: { type: 'string' } }),
          ...errors(400, 401, 403, 404, 429, 503),
        },
      },
    },
    '/v1/schemas': {
      get: {
        operationId: 'listSchemas',
        summary: "The JSON Schemas the tenant's keys must match",
        tags: ['schemas'],
        responses: {
          '200': listOf('ValueSchema', 'Schemas'),
          ...errors(401, 403, 429, 503),
        },
      },
    },
    '/v1/schemas/{key}': {
      get: {
        operationId: 'getSchema',
        summary: "One key's schema",
        tags: ['schemas'],
        parameters: [{ $ref: '#/components/parameters/Key' }],
        responses: {
          '200': valueSchemaResponse('The schema'),
          ...errors(400, 401, 403, 404, 429, 503),
        },
      },
      put: {
        operationId: 'putSchema',
        summary:
          'Set the JSON Schema (2020-12, or draft-07 by `$schema`) that every new value and every rollout of the key must match',
        tags: ['schemas'],
        parameters: [{ $ref: '#/components/parameters/Key' }],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/PutSchema' } } },
        },
        responses: {
          '200': valueSchemaResponse('The schema as stored'),
          ...errors(400, 401, 403, 409, 422, 429, 503),
        },
      },
      delete: {
        operationId: 'deleteSchema',
        summary:
          "Remove a key's schema: its values are then checked only for size and, for JSON keys, syntax",
        tags: ['schemas'],
        parameters: [{ $ref: '#/components/parameters/Key' }],
        responses: {
          '204': { description: 'Removed' },
          ...errors(400, 401, 403, 404, 429, 503),
        },
      },
    },
    '/v1/rollout-plans': {
      get: {
        operationId: 'listRolloutPlans',
        summary: "The plans the tenant's out-of-band Parameter Store edits roll out with",
        tags: ['rollout-plans'],
        responses: {
          '200': listOf('RolloutPlanEntry', 'Plans'),
          ...errors(401, 403, 429, 503),
        },
      },
    },
    '/v1/rollout-plans/{selector}': {
      get: {
        operationId: 'getRolloutPlan',
        summary: "One selector's out-of-band plan",
        tags: ['rollout-plans'],
        parameters: planScopeParameters,
        responses: {
          '200': rolloutPlanResponse('The plan'),
          ...errors(400, 401, 403, 404, 429, 503),
        },
      },
      put: {
        operationId: 'putRolloutPlan',
        summary:
          'Set the plan an out-of-band Parameter Store edit of a matching key rolls out with. The Lambda takes ' +
          "the exact key's plan (the service's before every service's), else the longest matching prefix's, " +
          `else its own default. At most ${MAX_PLANS_PER_TENANT} plans per tenant (409 PlanLimitReached beyond).`,
        tags: ['rollout-plans'],
        parameters: planScopeParameters,
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/PutRolloutPlan' } } },
        },
        responses: {
          '200': rolloutPlanResponse('The plan as stored, with who set it and when'),
          ...errors(400, 401, 403, 409, 429, 503),
        },
      },
      delete: {
        operationId: 'deleteRolloutPlan',
        summary: "Remove a selector's plan: its edits take the next most specific plan, or the default",
        tags: ['rollout-plans'],
        parameters: planScopeParameters,
        responses: {
          '204': { description: 'Removed' },
          ...errors(400, 401, 403, 404, 429, 503),
        },
      },
    },
    // Freezes and change windows.
    '/v1/freeze': freezePaths('tenant', "the caller's tenant: its release managers set and lift it"),
    '/v1/platform/freeze': freezePaths(
      'platform',
      'every tenant: only platform administrators (group config-platform-admins) set and lift it',
    ),
    '/v1/change-windows': {
      get: {
        operationId: 'getChangeWindows',
        summary: "The tenant's change windows (404 when none: rollouts may run at any time)",
        tags: ['freezes'],
        responses: {
          '200': jsonResponse('The windows, with who set them and when', 'ChangeWindows'),
          ...errors(401, 403, 404, 429, 503),
        },
      },
      put: {
        operationId: 'putChangeWindows',
        summary:
          "Set the UTC windows in which waves of the tenant's rollouts may start; outside them a rollout waits " +
          'durably for the next one to open',
        tags: ['freezes'],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/PutChangeWindows' } } },
        },
        responses: {
          '200': jsonResponse('The windows as stored', 'ChangeWindows'),
          ...errors(400, 401, 403, 429, 503),
        },
      },
      delete: {
        operationId: 'deleteChangeWindows',
        summary: 'Remove the windows: rollouts may run at any time',
        tags: ['freezes'],
        responses: { '204': { description: 'Removed' }, ...errors(401, 403, 404, 429, 503) },
      },
    },
    '/v1/rollouts': {
      post: {
        operationId: 'startRollout',
        summary: 'Start a staged rollout of a new value (or an existing version) of one key',
        tags: ['rollouts'],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/StartRollout' } } },
        },
        responses: {
          '202': {
            description: 'Started; follow it at /v1/rollouts/{rolloutId}',
            headers: { Location: { schema: { type: 'string' } } },
            content: { 'application/json': { schema: { $ref: '#/components/schemas/RolloutStarted' } } },
          },
          ...errors(400, 401, 403, 404, 409, 413, 422, 429, 503),
        },
      },
      get: {
        operationId: 'listRollouts',
        summary: "The tenant's rollouts, newest first",
        tags: ['rollouts'],
        parameters: [
          { name: 'key', in: 'query', schema: { type: 'string', pattern: KEY_PATTERN } },
          { name: 'state', in: 'query', schema: { $ref: '#/components/schemas/RolloutState' } },
          {
            name: 'pageSize',
            in: 'query',
            schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
          },
          { name: 'pageToken', in: 'query', schema: { type: 'string', maxLength: 4096 } },
        ],
        responses: {
          '200': listOf('RolloutSummary', 'A page of rollouts', { nextPageToken: { type: 'string' } }),
          ...errors(400, 401, 403, 429, 503),
        },
      },
    },
    '/v1/rollouts/{rolloutId}': {
      get: {
        operationId: 'getRollout',
        summary: "A rollout's progress",
        tags: ['rollouts'],
        parameters: [rolloutIdParameter],
        responses: {
          '200': {
            description: 'Progress',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Rollout' } } },
          },
          ...errors(400, 401, 403, 404, 429, 503),
        },
      },
    },
    '/v1/rollouts/{rolloutId}/approve': action('approve', 'Approve the wave the rollout waits on'),
    '/v1/rollouts/{rolloutId}/pause': action('pause', 'Hold the rollout before its next wave'),
    '/v1/rollouts/{rolloutId}/resume': action('resume', 'Continue a paused rollout'),
    '/v1/rollouts/{rolloutId}/abort': action('abort', 'Stop the rollout and roll back'),
    '/v1/rollouts/{rolloutId}/history': {
      get: {
        operationId: 'getRolloutHistory',
        summary: "A timeline built from the rollout's workflow history",
        tags: ['rollouts'],
        parameters: [rolloutIdParameter],
        responses: {
          '200': listOf('TimelineEntry', 'Timeline, oldest first'),
          ...errors(400, 401, 403, 404, 429, 503),
        },
      },
    },
    '/v1/rollouts/{rolloutId}/events': {
      get: {
        operationId: 'streamRollout',
        summary:
          'Server-sent events: `progress` (a Rollout) whenever it changes, `end` ({state}) when the rollout is over, ' +
          '`error` ({detail}) if it can no longer be read',
        tags: ['rollouts'],
        parameters: [rolloutIdParameter],
        responses: {
          '200': {
            description: 'An event stream',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
          ...errors(400, 401, 403, 404, 429, 503),
        },
      },
    },
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    parameters: {
      Key: {
        name: 'key',
        in: 'path',
        required: true,
        schema: { type: 'string', pattern: KEY_PATTERN },
      },
      Service: {
        name: 'service',
        in: 'query',
        description: 'The consuming service (required for param_config_ keys)',
        schema: { type: 'string', pattern: patternOf(SERVICE_NAME_PATTERN) },
      },
    },
    schemas: {
      Problem: {
        type: 'object',
        required: ['type', 'title', 'status', 'detail'],
        properties: {
          type: { type: 'string' },
          title: { type: 'string' },
          status: { type: 'integer' },
          detail: { type: 'string' },
          field: { type: 'string' },
          limit: { type: 'string', description: 'For 429: the rate limit or quota exceeded' },
        },
      },
      ConfigEntry: {
        type: 'object',
        required: ['key', 'version', 'value', 'format', 'updatedAt'],
        properties: {
          key: { type: 'string' },
          service: { type: 'string' },
          version: { type: 'integer' },
          value: { type: 'string' },
          format: { type: 'string', enum: ['json', 'text'] },
          updatedAt: { type: 'string' },
        },
      },
      ConfigVersion: {
        allOf: [
          { $ref: '#/components/schemas/ConfigEntry' },
          {
            type: 'object',
            required: ['live'],
            properties: {
              live: { type: 'boolean' },
              writtenBy: { type: 'string' },
              copyOf: {
                type: 'integer',
                description: 'This version is a copy of that older one (a rollout back to it rolled forward)',
              },
            },
          },
        ],
      },
      ValueSchema: {
        type: 'object',
        required: ['key', 'version', 'schema', 'updatedAt', 'updatedBy'],
        properties: {
          key: { type: 'string' },
          version: { type: 'integer' },
          schema: { type: 'object' },
          updatedAt: { type: 'string' },
          updatedBy: { type: 'string' },
        },
      },
      PutSchema: {
        type: 'object',
        additionalProperties: false,
        required: ['schema'],
        properties: {
          schema: { type: 'object', description: "A JSON Schema; a text key's value is checked as a string" },
          expectedVersion: {
            type: 'integer',
            minimum: 0,
            maximum: 9007199254740991,
            description:
              'The version you last read (0: none yet); refused with 409 if the schema changed since',
          },
        },
      },
      WaveTarget: {
        oneOf: [
          { type: 'integer', minimum: 1 },
          { type: 'string', pattern: '^\\d{1,3}(\\.\\d+)?%$' },
        ],
      },
      Plan: {
        type: 'object',
        additionalProperties: false,
        description:
          'Omitted fields take the defaults: waves [1, "10%", "50%", "100%"], 60 s bake, no approval, ' +
          '0 failures, a 24 h bound on pauses and approval waits, no self-approval',
        properties: {
          strategy: {
            oneOf: [
              {
                type: 'object',
                additionalProperties: false,
                required: ['kind', 'waves'],
                properties: {
                  kind: { type: 'string', enum: ['explicit'] },
                  waves: {
                    type: 'array',
                    minItems: 1,
                    maxItems: 100,
                    items: { $ref: '#/components/schemas/WaveTarget' },
                  },
                },
              },
              {
                type: 'object',
                additionalProperties: false,
                required: ['kind', 'stepPercent'],
                properties: {
                  kind: { type: 'string', enum: ['linear'] },
                  stepPercent: { type: 'number', exclusiveMinimum: true, minimum: 0, maximum: 100 },
                },
              },
              {
                type: 'object',
                additionalProperties: false,
                required: ['kind', 'startPercent', 'growthFactor'],
                properties: {
                  kind: { type: 'string', enum: ['exponential'] },
                  startPercent: { type: 'number', exclusiveMinimum: true, minimum: 0, maximum: 100 },
                  growthFactor: { type: 'number', exclusiveMinimum: true, minimum: 1, maximum: 100 },
                },
              },
            ],
          },
          bakeSeconds: { type: 'integer', minimum: 0, maximum: MAX_BAKE_SECONDS },
          maxPauseSeconds: {
            type: 'integer',
            minimum: 1,
            maximum: MAX_PAUSE_SECONDS_LIMIT,
            description:
              'The longest the rollout may stay paused or wait for an approval; past it, it rolls back',
          },
          allowSelfApproval: {
            type: 'boolean',
            description: 'Let the release manager who started the rollout approve it (default: another must)',
          },
          allowEmptyFleet: {
            type: 'boolean',
            description:
              'Promote even when no instance serves the tenant (default: roll back, nothing gates the change)',
          },
          approval: { type: 'string', enum: ['none', 'after-first-wave', 'every-wave'] },
          maxFailures: {
            oneOf: [
              { type: 'integer', minimum: 0 },
              { type: 'string', pattern: '^\\d{1,3}(\\.\\d+)?%$' },
            ],
          },
          push: {
            type: 'object',
            additionalProperties: false,
            required: ['timeoutMs', 'attempts', 'concurrency'],
            properties: {
              timeoutMs: { type: 'integer', minimum: 100, maximum: 60000 },
              attempts: { type: 'integer', minimum: 1, maximum: 10 },
              concurrency: { type: 'integer', minimum: 1, maximum: 256 },
            },
          },
          // Shape guard and approvals that expire (issue 11):
          shapeGuard: {
            description:
              `How far the value's size, top-level keys or array items may move against the live value, ` +
              `either way, before a start is refused (422 ShapeChangeRefused); default maxFactor ` +
              `${DEFAULT_SHAPE_MAX_FACTOR}; measures under ${SHAPE_BYTES_FLOOR} bytes or ${SHAPE_COUNT_FLOOR} ` +
              'keys or items are not judged; "off" judges nothing',
            oneOf: [
              { type: 'string', enum: ['off'] },
              {
                type: 'object',
                additionalProperties: false,
                required: ['maxFactor'],
                properties: {
                  maxFactor: {
                    type: 'number',
                    exclusiveMinimum: true,
                    minimum: 1,
                    maximum: MAX_SHAPE_FACTOR_LIMIT,
                  },
                },
              },
            ],
          },
          approvalTimeoutSeconds: {
            type: 'integer',
            minimum: 1,
            maximum: MAX_PAUSE_SECONDS_LIMIT,
            description:
              'How long each approval is waited for; past it the rollout rolls back (default: maxPauseSeconds)',
          },
          // Alarm gate.
          alarms: {
            type: 'array',
            maxItems: MAX_ALARM_SELECTORS,
            description:
              "CloudWatch alarms that gate every wave: one in ALARM at any time during a wave's push or bake " +
              `rolls back. Names and prefixes are looked up under ${ALARM_NAMESPACE}/<tenant>/ only`,
            items: {
              oneOf: [
                {
                  type: 'object',
                  additionalProperties: false,
                  required: ['name'],
                  properties: { name: alarmNameSchema },
                },
                {
                  type: 'object',
                  additionalProperties: false,
                  required: ['prefix'],
                  properties: { prefix: alarmNameSchema },
                },
              ],
            },
          },
          // Canary analysis gate (issue 11).
          canary: {
            type: 'object',
            additionalProperties: false,
            description:
              "After each wave's bake but the last, compare the error ratio the instances holding the candidate " +
              'recorded (SDK `record`) with that of instances still on live (a one-sided two-proportion z-test); ' +
              'a significant rise rolls back. `{}` turns it on with the defaults',
            properties: {
              minSamples: {
                type: 'integer',
                minimum: MIN_CANARY_SAMPLES,
                maximum: MAX_CANARY_SAMPLES,
                description: `Requests each group must record in the window before the test runs (default ${CANARY_DEFAULTS.minSamples})`,
              },
              confidence: {
                type: 'number',
                exclusiveMinimum: true,
                minimum: MIN_CANARY_CONFIDENCE,
                maximum: MAX_CANARY_CONFIDENCE,
                description: `The test's confidence that the candidate fails more often (default ${CANARY_DEFAULTS.confidence})`,
              },
              maxExtraBakeSeconds: {
                type: 'integer',
                minimum: 0,
                maximum: MAX_BAKE_SECONDS,
                description: `How much longer a wave may bake waiting for samples; bake plus this at most ${MAX_BAKE_SECONDS} (default ${CANARY_DEFAULTS.maxExtraBakeSeconds})`,
              },
              onInsufficientSamples: {
                type: 'string',
                enum: ['fail', 'pass'],
                description: 'Too few samples at the bound: roll back (fail, the default) or go on (pass)',
              },
            },
          },
        },
      },
      PutRolloutPlan: {
        type: 'object',
        additionalProperties: false,
        required: ['plan'],
        description:
          'Omitted plan fields take the out-of-band default: waves [1, "50%", "100%"], 30 s bake, no approval, 0 failures',
        properties: { plan: { $ref: '#/components/schemas/Plan' } },
      },
      RolloutPlanEntry: {
        type: 'object',
        required: ['selector', 'plan', 'updatedAt', 'updatedBy'],
        properties: {
          selector: { type: 'string' },
          service: { type: 'string' },
          plan: { $ref: '#/components/schemas/Plan' },
          updatedAt: { type: 'string' },
          updatedBy: { type: 'string', description: 'The token subject that set it' },
        },
      },
      StartRollout: {
        type: 'object',
        additionalProperties: false,
        required: ['key'],
        description:
          'Exactly one of `value` (write and roll out a new version), `version` (roll out one already written) ' +
          'or `remove: true` (instances forget the key, then it is deleted)',
        properties: {
          key: { type: 'string', pattern: KEY_PATTERN },
          service: { type: 'string', pattern: patternOf(SERVICE_NAME_PATTERN) },
          value: { type: 'string', minLength: 1, maxLength: 409600 },
          version: { type: 'integer', minimum: 1, maximum: 9007199254740991 },
          remove: { type: 'boolean', enum: [true] },
          targetServices: {
            type: 'array',
            minItems: 1,
            maxItems: 50,
            uniqueItems: true,
            items: { type: 'string', pattern: patternOf(SERVICE_NAME_PATTERN) },
            description: 'Whose instances receive it; defaults to `service` for per-service keys',
          },
          plan: { $ref: '#/components/schemas/Plan' },
          allowShapeChange: {
            type: 'boolean',
            description: "Confirm a change of size or shape past the plan's shapeGuard factor",
          },
        },
      },
      RolloutStarted: {
        type: 'object',
        required: ['rolloutId', 'workflowId', 'state'],
        properties: {
          rolloutId: { type: 'string' },
          workflowId: { type: 'string' },
          state: { $ref: '#/components/schemas/RolloutState' },
        },
      },
      RolloutState: {
        type: 'string',
        enum: [
          'PREPARING',
          'ROLLING_OUT',
          'BAKING',
          'AWAITING_APPROVAL',
          'PAUSED',
          'PROMOTING',
          'SUCCEEDED',
          'ROLLING_BACK',
          'ROLLED_BACK',
          'FAILED',
        ],
      },
      RolloutSummary: {
        type: 'object',
        required: ['rolloutId', 'workflowId', 'key', 'state', 'startedAt'],
        properties: {
          rolloutId: { type: 'string' },
          workflowId: { type: 'string' },
          key: { type: 'string' },
          state: { type: 'string' },
          startedAt: { type: 'string' },
          closedAt: { type: 'string' },
        },
      },
      Rollout: {
        type: 'object',
        required: ['rolloutId', 'workflowId', 'state', 'key', 'waves', 'instances', 'audit'],
        properties: {
          rolloutId: { type: 'string' },
          workflowId: { type: 'string' },
          state: { type: 'string' },
          key: { type: 'string' },
          service: { type: 'string' },
          candidateVersion: { type: 'integer' },
          copyOf: {
            type: 'integer',
            description: 'The candidate is a copy of this older version: going back to it rolls forward',
          },
          previousVersion: { type: 'integer' },
          currentWave: { type: 'integer' },
          paused: { type: 'boolean' },
          approvalDeadline: {
            type: 'string',
            description: 'While AWAITING_APPROVAL: when the rollout rolls back unless approved',
          },
          outcome: { type: 'string' },
          staleSince: {
            type: 'string',
            description:
              'Present when no worker answered: the progress is what the rollout last published, at this time; it goes on once a worker is back',
          },
          waves: {
            type: 'array',
            items: {
              type: 'object',
              required: ['index', 'targetInstances', 'updated', 'failed', 'state'],
              properties: {
                index: { type: 'integer' },
                targetInstances: { type: 'integer' },
                updated: { type: 'integer' },
                failed: { type: 'integer' },
                state: { type: 'string' },
                canary: { $ref: '#/components/schemas/WaveCanary' },
              },
            },
          },
          instances: {
            type: 'object',
            required: ['total', 'updated', 'failed', 'pending', 'reverted'],
            properties: {
              total: { type: 'integer' },
              updated: { type: 'integer' },
              failed: { type: 'integer' },
              pending: { type: 'integer' },
              reverted: {
                type: 'integer',
                description: 'Sent the candidate, then confirmed back on the previous version by a rollback',
              },
            },
          },
          failedInstances: {
            type: 'array',
            items: {
              type: 'object',
              required: ['instanceId', 'reason'],
              properties: { instanceId: { type: 'string' }, reason: { type: 'string' } },
            },
          },
          audit: { type: 'array', items: { $ref: '#/components/schemas/AuditEntry' } },
          // Freezes and change windows.
          hold: {
            type: 'object',
            description:
              "What holds the rollout at a wave boundary (state PAUSED): a freeze (who, when, why) or the tenant's " +
              'change windows (`until`: the next one opens)',
            properties: {
              gate: { type: 'string', enum: ['freeze', 'change-window'] },
              scope: { type: 'string', enum: ['tenant', 'platform'] },
              frozenBy: { type: 'string' },
              frozenAt: { type: 'string' },
              reason: { type: 'string' },
              until: { type: 'string' },
            },
          },
        },
      },
      // Canary analysis gate (issue 11).
      WaveCanary: {
        type: 'object',
        required: ['verdict', 'candidate', 'baseline', 'extraBakeSeconds', 'untrusted', 'summary'],
        description: "A wave's canary analysis (plans with `canary`)",
        properties: {
          verdict: { type: 'string', enum: ['measuring', 'passed', 'regressed', 'insufficient', 'skipped'] },
          candidate: { $ref: '#/components/schemas/OutcomeTally' },
          baseline: { $ref: '#/components/schemas/OutcomeTally' },
          z: { type: 'number' },
          threshold: { type: 'number' },
          extraBakeSeconds: { type: 'integer' },
          untrusted: {
            type: 'integer',
            description:
              'Instances left out: counters absurd (negative, more errors than requests, going back)',
          },
          summary: { type: 'string' },
        },
      },
      OutcomeTally: {
        type: 'object',
        required: ['instances', 'requests', 'errors'],
        properties: {
          instances: { type: 'integer' },
          requests: { type: 'integer' },
          errors: { type: 'integer' },
        },
      },
      AuditEntry: {
        type: 'object',
        required: ['at', 'actor', 'action'],
        properties: {
          at: { type: 'string' },
          actor: { type: 'string' },
          action: {
            type: 'string',
            enum: ['start', 'approve', 'pause', 'resume', 'abort', 'freeze', 'unfreeze'],
          },
          reason: { type: 'string' },
        },
      },
      // Freezes and change windows.
      PutFreeze: {
        type: 'object',
        additionalProperties: false,
        required: ['reason'],
        properties: { reason: { type: 'string', maxLength: MAX_FREEZE_REASON_LENGTH } },
      },
      Freeze: {
        type: 'object',
        required: ['frozen'],
        properties: {
          frozen: { type: 'boolean' },
          scope: { type: 'string', enum: ['tenant', 'platform'] },
          frozenBy: { type: 'string' },
          frozenAt: { type: 'string' },
          reason: { type: 'string' },
          signalled: { type: 'integer', description: 'Running rollouts told of the change at once' },
        },
      },
      PutChangeWindows: {
        type: 'object',
        additionalProperties: false,
        required: ['windows'],
        description:
          `1 to ${MAX_CHANGE_WINDOWS} windows, each days (${WEEKDAYS.join(', ')}) and UTC hours: open from ` +
          'startHour (0-23) to endHour (1-24, excluded, after startHour) on each day',
        properties: {
          windows: { type: 'array', items: { type: 'object' } },
        },
      },
      ChangeWindows: {
        type: 'object',
        required: ['windows', 'updatedBy', 'updatedAt'],
        properties: {
          windows: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                days: { type: 'array', items: { type: 'string', enum: [...WEEKDAYS] } },
                startHour: { type: 'integer' },
                endHour: { type: 'integer' },
              },
            },
          },
          updatedBy: { type: 'string' },
          updatedAt: { type: 'string' },
          signalled: { type: 'integer' },
        },
      },
      ActionRequest: {
        type: 'object',
        additionalProperties: false,
        properties: { reason: { type: 'string', maxLength: 500 } },
      },
      TimelineEntry: {
        type: 'object',
        required: ['at', 'kind', 'summary'],
        properties: {
          at: { type: 'string' },
          kind: {
            type: 'string',
            enum: [
              'started',
              'state',
              'push',
              'health',
              'action',
              'bake',
              'wait',
              'finished',
              // A gate's verdict (the alarm gate: what tripped it, or that it passed a wave).
              'gate',
              // Canary analysis gate (issue 11).
              'canary',
            ],
          },
          summary: { type: 'string' },
          actor: { type: 'string' },
          succeeded: { type: 'integer' },
          failed: { type: 'integer' },
          state: { type: 'string' },
        },
      },
    },
  },
};
