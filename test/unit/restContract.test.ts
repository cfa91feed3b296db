import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { contractValidator, openApiDocument } from '../../server/http/openapi';

/**
 * The REST contract is generated from the zod schemas of common/api. These tests hold the generated
 * document to the hand-written one it replaced: every path, operation, schema and parameter is still
 * there, the API's validator (express-openapi-validator) loads it, and it refuses and accepts the
 * requests the old one did.
 */

/** Operations of the hand-written document (issue 12), path by path. */
const OPERATIONS: Record<string, Record<string, string>> = {
  '/healthz': { get: 'health' },
  '/v1/configs': { get: 'listConfigs' },
  '/v1/configs/{key}': { get: 'getConfig' },
  '/v1/configs/{key}/history': { get: 'getConfigHistory' },
  '/v1/schemas': { get: 'listSchemas' },
  '/v1/schemas/{key}': { get: 'getSchema', put: 'putSchema', delete: 'deleteSchema' },
  '/v1/rollout-plans': { get: 'listRolloutPlans' },
  '/v1/rollout-plans/{selector}': {
    get: 'getRolloutPlan',
    put: 'putRolloutPlan',
    delete: 'deleteRolloutPlan',
  },
  '/v1/freeze': { get: 'getTenantFreeze', put: 'putTenantFreeze', delete: 'deleteTenantFreeze' },
  '/v1/platform/freeze': {
    get: 'getPlatformFreeze',
    put: 'putPlatformFreeze',
    delete: 'deletePlatformFreeze',
  },
  '/v1/change-windows': {
    get: 'getChangeWindows',
    put: 'putChangeWindows',
    delete: 'deleteChangeWindows',
  },
  '/v1/rollouts': { post: 'startRollout', get: 'listRollouts' },
  '/v1/rollouts/{rolloutId}': { get: 'getRollout' },
  '/v1/rollouts/{rolloutId}/approve': { post: 'approveRollout' },
  '/v1/rollouts/{rolloutId}/pause': { post: 'pauseRollout' },
  '/v1/rollouts/{rolloutId}/resume': { post: 'resumeRollout' },
  '/v1/rollouts/{rolloutId}/abort': { post: 'abortRollout' },
  '/v1/rollouts/{rolloutId}/history': { get: 'getRolloutHistory' },
  '/v1/rollouts/{rolloutId}/events': { get: 'streamRollout' },
};

/**
 * Schemas of the hand-written document. `ConfigVersion` is now `ConfigHistoryEntry`: the store's
 * ConfigVersion is another thing, and one name meant both.
 */
const SCHEMAS = [
  'Problem',
  'ConfigEntry',
  'ConfigHistoryEntry',
  'ValueSchema',
  'PutSchema',
  'WaveTarget',
  'Plan',
  'PutRolloutPlan',
  'RolloutPlanEntry',
  'StartRollout',
  'RolloutStarted',
  'RolloutState',
  'RolloutSummary',
  'Rollout',
  'WaveCanary',
  'OutcomeTally',
  'AuditEntry',
  'PutFreeze',
  'Freeze',
  'PutChangeWindows',
  'ChangeWindows',
  'ActionRequest',
  'TimelineEntry',
];

const ROLLOUT_ID = '0f8fad5b-d9cb-469f-a165-70867728950e~param_config_flags~checkout';

let server: Server;
let baseUrl: string;

beforeAll(async () => {
  const app = express();
  app.use(express.json());
  app.use(contractValidator());
  // Whatever passed the validator reaches the handler.
  app.use((_request, response) => {
    response.json({ passed: true });
  });
  const answerError: express.ErrorRequestHandler = (
    error: { status?: number; message: string },
    _request,
    response,
    _next,
  ) => {
    response.status(error.status ?? 500).json({ message: error.message });
  };
  app.use(answerError);
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

async function send(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const answer = await fetch(`${baseUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: answer.status, text: await answer.text() };
}

const start = (extra: Record<string, unknown>) => ({
  key: 'param_config_flags',
  service: 'checkout',
  value: '{"on":true}',
  ...extra,
});

test('the generated document keeps every path, operation, schema and parameter of the hand-written one', () => {
  expect(openApiDocument.openapi).toBe('3.0.3');
  const operations = Object.fromEntries(
    Object.entries(openApiDocument.paths).map(([path, item]) => [
      path,
      Object.fromEntries(
        Object.entries(item as Record<string, { operationId: string }>).map(([method, operation]) => [
          method,
          operation.operationId,
        ]),
      ),
    ]),
  );
  expect(operations).toEqual(OPERATIONS);
  expect(Object.keys(openApiDocument.components?.schemas ?? {})).toEqual(expect.arrayContaining(SCHEMAS));
  expect(Object.keys(openApiDocument.components?.parameters ?? {}).sort()).toEqual(['Key', 'Service']);
  expect(openApiDocument.components?.securitySchemes).toEqual({
    bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
  });
});

test('express-openapi-validator loads the document and lets a well-formed request of each resource through', async () => {
  const fullPlan = {
    strategy: { kind: 'exponential', startPercent: 5, growthFactor: 2 },
    bakeSeconds: 30,
    maxPauseSeconds: 3600,
    allowSelfApproval: true,
    allowEmptyFleet: false,
    approval: 'after-first-wave',
    maxFailures: '5%',
    push: { timeoutMs: 1000, attempts: 2, concurrency: 8 },
    shapeGuard: { maxFactor: 2 },
    approvalTimeoutSeconds: 600,
    alarms: [{ name: 'checkout/5xx' }, { prefix: 'checkout/' }],
    canary: { minSamples: 50, confidence: 0.9, maxExtraBakeSeconds: 60, onInsufficientSamples: 'pass' },
  };
  const accepted = [
    await send('GET', '/healthz'),
    await send('POST', '/v1/rollouts', start({ targetServices: ['checkout', 'cart'], plan: fullPlan })),
    await send('POST', '/v1/rollouts', { key: 'config_shared', version: 3, plan: { shapeGuard: 'off' } }),
    await send('GET', '/v1/rollouts?state=PAUSED&pageSize=5&key=param_config_flags'),
    await send('GET', '/v1/configs/param_config_flags/history?service=checkout&pageSize=100'),
    await send('PUT', '/v1/rollout-plans/param_config_flag_*', { plan: { bakeSeconds: 0, maxFailures: 1 } }),
    await send('PUT', '/v1/schemas/config_shared', { schema: { type: 'object' }, expectedVersion: 0 }),
    await send('PUT', '/v1/change-windows', { windows: [{ days: ['mon'], startHour: 9, endHour: 17 }] }),
    await send('PUT', '/v1/freeze', { reason: 'release week' }),
    await send('POST', `/v1/rollouts/${ROLLOUT_ID}/approve`, { reason: 'looks good' }),
    await send('POST', `/v1/rollouts/${ROLLOUT_ID}/pause`),
  ];
  for (const answer of accepted) expect(answer).toEqual({ status: 200, text: '{"passed":true}' });
});

test('requests the hand-written document refused are still refused with 400', async () => {
  const refused = [
    // An unknown plan field.
    await send('POST', '/v1/rollouts', start({ plan: { waves: [1, '100%'] } })),
    // A key outside the key pattern, in the body and in the path.
    await send('POST', '/v1/rollouts', start({ key: 'param config flags' })),
    await send('GET', '/v1/configs/param%20config'),
    // A selector that is neither a key nor a prefix ending in `*`.
    await send('GET', '/v1/rollout-plans/param_config_*_x'),
    // A rollout id that is not `{uuid}~{key}`.
    await send('GET', '/v1/rollouts/not-a-run~param_config_flags'),
    // Bounds of the plan: a strategy step of 0, a bake past the hour, a wave target that is no target.
    await send('POST', '/v1/rollouts', start({ plan: { strategy: { kind: 'linear', stepPercent: 0 } } })),
    await send('POST', '/v1/rollouts', start({ plan: { bakeSeconds: 3601 } })),
    await send('POST', '/v1/rollouts', start({ plan: { strategy: { kind: 'explicit', waves: [0] } } })),
    await send('POST', '/v1/rollouts', start({ plan: { maxFailures: '5 %' } })),
    await send('POST', '/v1/rollouts', start({ plan: { shapeGuard: 'on' } })),
    await send('POST', '/v1/rollouts', start({ plan: { shapeGuard: { maxFactor: 1 } } })),
    await send('POST', '/v1/rollouts', start({ plan: { alarms: [{ name: 'a', prefix: 'b' }] } })),
    await send('POST', '/v1/rollouts', start({ plan: { canary: { confidence: 0.5 } } })),
    await send('POST', '/v1/rollouts', start({ plan: { push: { timeoutMs: 1000 } } })),
    // The start body itself: an unknown field, a duplicate target, `remove: false`.
    await send('POST', '/v1/rollouts', start({ tenantId: 'other' })),
    await send('POST', '/v1/rollouts', start({ targetServices: ['checkout', 'checkout'] })),
    await send('POST', '/v1/rollouts', { key: 'config_shared', remove: false }),
    // Query strings: an unknown parameter, a page too large, a state that is none.
    await send('GET', '/v1/rollouts?tenant=other'),
    await send('GET', '/v1/rollouts?pageSize=101'),
    await send('GET', '/v1/rollouts?state=DONE'),
    // Other resources' bodies.
    await send('PUT', '/v1/schemas/config_shared', { schema: 'not an object' }),
    await send('PUT', '/v1/rollout-plans/param_config_flags', { plan: { approval: 'sometimes' } }),
    await send('PUT', '/v1/freeze', { reason: 'x'.repeat(501) }),
    await send('PUT', '/v1/change-windows', { windows: ['mon'] }),
    await send('POST', `/v1/rollouts/${ROLLOUT_ID}/abort`, { reason: 'x', force: true }),
  ];
  expect(refused.map(({ status }) => status)).toEqual(refused.map(() => 400));
});
