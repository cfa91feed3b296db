import type { Payload, PayloadCodec } from '@temporalio/common';
import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import { InvalidArgumentError, PermissionDeniedError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import type { Authenticate } from './authenticate';

/** Bounds the work one request can ask for (the body is bounded too, by express.json). */
const MAX_PAYLOADS = 1000;

/** A request of the remote codec protocol: the JSON form of Temporal's `Payloads` (bytes in base64). */
const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64');
const payloadsBody = z.object({
  payloads: z
    .array(z.object({ metadata: z.record(base64).optional(), data: base64.optional() }))
    .max(MAX_PAYLOADS),
});

export interface PayloadCodecEndpoint {
  readonly codec: PayloadCodec;
  /** The one Temporal namespace this deployment's payloads live in. */
  readonly namespace: string;
}

interface CodecRoutesDeps extends PayloadCodecEndpoint {
  /** Origins of the Temporal UI allowed to call from a browser. */
  readonly corsOrigins: readonly string[];
  readonly authenticate: Authenticate;
  readonly logger: Logger;
}

/**
 * The remote codec protocol the Temporal UI and CLI speak (POST /codec/decode and /codec/encode), so that
 * platform operators read histories while Temporal itself stores only ciphertext. A payload may hold any
 * tenant's values: only the platform operators' group may use it; every decode is logged with who asked.
 */
export function codecRoutes(deps: CodecRoutesDeps): Router {
  const router = Router();
  router.use(cors(deps.corsOrigins));
  for (const direction of ['decode', 'encode'] as const) {
    router.post(`/${direction}`, async (request, response) => {
      const identity = await deps.authenticate(request, `payload:${direction}`);
      const namespace = request.headers['x-namespace'];
      if (namespace !== undefined && namespace !== deps.namespace) {
        throw new PermissionDeniedError(
          `this codec serves namespace "${deps.namespace}" only`,
          'X-Namespace',
        );
      }
      const payloads = parsePayloads(request.body);
      const result = await (direction === 'decode'
        ? deps.codec.decode(payloads)
        : deps.codec.encode(payloads));
      deps.logger.info(`codec ${direction}`, {
        subject: identity.subject,
        tenantId: identity.tenantId,
        namespace: deps.namespace,
        payloads: payloads.length,
      });
      response.json({ payloads: result.map(toJson) });
    });
  }
  return router;
}

/** The UI calls from the browser: answer preflights and name the allowed origin, for listed origins only. */
function cors(origins: readonly string[]): RequestHandler {
  return (request, response, next) => {
    const origin = request.headers.origin;
    if (origin !== undefined && origins.includes(origin)) {
      response.vary('Origin');
      response.setHeader('Access-Control-Allow-Origin', origin);
      response.setHeader('Access-Control-Allow-Credentials', 'true');
      if (request.method === 'OPTIONS') {
        response.setHeader('Access-Control-Allow-Methods', 'POST');
        response.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-Namespace');
        response.setHeader('Access-Control-Max-Age', '600');
      }
    }
    if (request.method === 'OPTIONS') {
      response.status(204).end();
      return;
    }
    next();
  };
}

function parsePayloads(body: unknown): Payload[] {
  const parsed = payloadsBody.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidArgumentError(
      `expected {"payloads": [{"metadata": {…}, "data": "<base64>"}, …]}: ${issue?.path.join('.')} ${issue?.message}`,
      'payloads',
    );
  }
  return parsed.data.payloads.map((payload) => ({
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')]),
    ),
    data: Buffer.from(payload.data ?? '', 'base64'),
  }));
}

function toJson(payload: Payload) {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([key, value]) => [
        key,
        Buffer.from(value).toString('base64'),
      ]),
    ),
    data: Buffer.from(payload.data ?? []).toString('base64'),
  };
}
