import { setTimeout as sleep } from 'node:timers/promises';
import { type Response, Router } from 'express';
import { ROLLOUT_ACTIONS, type RolloutState } from '../../common/rollout';
import type { Identity } from '../auth/identity';
import type { Rollout, StartRollout } from '../../common/api/rollouts';
import type { StreamQuota } from '../limits/streamQuota';
import type { RolloutService } from '../rollouts/rolloutService';
import type { RunningRolloutQuota } from '../rollouts/runningRolloutQuota';
import type { Authenticate } from './authenticate';
import { optionalPositiveInteger, optionalString } from './requestValues';
import { errorMessage } from '../../common/errors';

const FINISHED: readonly RolloutState[] = ['SUCCEEDED', 'ROLLED_BACK', 'FAILED'];
const STREAM_POLL_MS = 1_000;
const STREAM_HEARTBEAT_MS = 15_000;
/** The `retry:` a stream closed by a shutdown sends: another replica, or this one restarted, answers by then. */
const STREAM_RETRY_MS = 2_000;

/** Release managers start and steer rollouts; operators read them. Always within the caller's tenant. */
export function rolloutRoutes(deps: {
  rollouts: RolloutService;
  authenticate: Authenticate;
  streams: StreamQuota;
  runningRollouts?: RunningRolloutQuota;
  shuttingDown?: AbortSignal;
}): Router {
  const { rollouts, authenticate, streams, runningRollouts } = deps;
  const shuttingDown = deps.shuttingDown ?? new AbortController().signal;
  const router = Router();

  router.post('/rollouts', async (request, response) => {
    const identity = await authenticate(request, 'rollout:act');
    const start = rollouts.starter(identity, request.body as StartRollout);
    const started = await (runningRollouts ? runningRollouts.admit(identity.tenantId, start) : start.run());
    response.status(202).location(`/v1/rollouts/${started.rolloutId}`).json(started);
  });

  router.get('/rollouts', async (request, response) => {
    const identity = await authenticate(request, 'rollout:read');
    response.json(
      await rollouts.list(identity, {
        key: optionalString(request.query.key, 'key'),
        state: optionalString(request.query.state, 'state'),
        pageSize: optionalPositiveInteger(request.query.pageSize, 'pageSize') ?? 20,
        pageToken: optionalString(request.query.pageToken, 'pageToken'),
      }),
    );
  });

  router.get('/rollouts/:rolloutId', async (request, response) => {
    const identity = await authenticate(request, 'rollout:read');
    response.json(await rollouts.get(identity, request.params.rolloutId));
  });

  for (const action of ROLLOUT_ACTIONS) {
    router.post(`/rollouts/:rolloutId/${action}`, async (request, response) => {
      const identity = await authenticate(request, 'rollout:act');
      const reason = optionalString((request.body as { reason?: unknown } | undefined)?.reason, 'reason');
      response.json(await rollouts.act(identity, request.params.rolloutId, action, reason));
    });
  }

  router.get('/rollouts/:rolloutId/history', async (request, response) => {
    const identity = await authenticate(request, 'rollout:read');
    response.json({ items: await rollouts.history(identity, request.params.rolloutId) });
  });

  router.get('/rollouts/:rolloutId/events', async (request, response) => {
    const identity = await authenticate(request, 'rollout:read');
    const release = streams.acquire(identity);
    try {
      // The first read happens before the stream opens, so a bad id still gets a proper problem response.
      const first = await rollouts.get(identity, request.params.rolloutId);
      await streamProgress(response, first, identity, shuttingDown, (id, rollout) =>
        rollouts.get(id, rollout),
      );
    } finally {
      release();
    }
  });

  return router;
}

/**
 * Server-sent events: `progress` each time the rollout's progress changes, `end` once it is over, a
 * comment now and then so proxies keep the connection open. Stops when the client goes away, and when
 * the caller's token expires, with an `error` event saying so: a stream is no longer-lived credential
 * than the token that opened it. When the server shuts down, a `shutdown` event with a `retry:` hint
 * tells the client to reconnect (the rollout goes on), and the stream closes.
 */
async function streamProgress(
  response: Response,
  first: Rollout,
  identity: Identity,
  shuttingDown: AbortSignal,
  read: (identity: Identity, rolloutId: string) => Promise<Rollout>,
): Promise<void> {
  response.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  let closed = false;
  response.on('close', () => (closed = true));
  const send = (event: string, data: unknown) =>
    response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

  let last = '';
  let lastWrite = Date.now();
  for (let view = first; !closed; ) {
    const serialized = JSON.stringify(view);
    if (serialized !== last) {
      send('progress', view);
      last = serialized;
      lastWrite = Date.now();
    } else if (Date.now() - lastWrite > STREAM_HEARTBEAT_MS) {
      response.write(': still running\n\n');
      lastWrite = Date.now();
    }
    if (FINISHED.includes(view.state)) {
      send('end', { state: view.state });
      break;
    }
    const untilExpiry = identity.expiresAt - Date.now();
    if (untilExpiry > 0) await pause(Math.min(STREAM_POLL_MS, untilExpiry), shuttingDown);
    if (closed) break;
    if (shuttingDown.aborted) {
      response.write(`retry: ${STREAM_RETRY_MS}\n`);
      send('shutdown', {
        detail: 'the server is shutting down: reconnect to follow the rollout, which goes on',
      });
      break;
    }
    if (Date.now() >= identity.expiresAt) {
      send('error', {
        code: 'Unauthenticated',
        detail: 'your token expired: the stream is closed; open it again with a fresh token',
      });
      break;
    }
    try {
      view = await read(identity, first.rolloutId);
    } catch (error) {
      send('error', { detail: errorMessage(error) });
      break;
    }
  }
  response.end();
}

/** Waits `ms`, or less when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { signal }).catch(() => undefined);
}
