import * as grpc from '@grpc/grpc-js';
import { generateKeyPairSync } from 'node:crypto';
import { loadProto } from '../../common/proto';
import { type PushKeyPair, signPushToken } from '../../common/pushToken';
import type { ProtoGrpcType } from '../../gen/proto/refresh';
import type { CacheRefreshClient } from '../../gen/proto/configsvc/v1/CacheRefresh';
import type { HealthRequest } from '../../gen/proto/configsvc/v1/HealthRequest';
import type { HealthResponse__Output } from '../../gen/proto/configsvc/v1/HealthResponse';
import type { RefreshRequest } from '../../gen/proto/configsvc/v1/RefreshRequest';
import type { RefreshResponse__Output } from '../../gen/proto/configsvc/v1/RefreshResponse';

/** A call's result, failures included, so tests can assert on status codes and error trailers. */
export interface CallOutcome<T> {
  readonly code: grpc.status;
  readonly response?: T;
  readonly details?: string;
  readonly errorField?: string;
}

/** Stands in for the control plane: calls an instance's CacheRefresh with whatever credentials a test gives. */
export class RefreshCaller {
  private readonly client: CacheRefreshClient;

  constructor(address: string) {
    const { proto } = loadProto<ProtoGrpcType>('refresh.proto');
    this.client = new proto.configsvc.v1.CacheRefresh(address, grpc.credentials.createInsecure());
  }

  refresh(request: RefreshRequest, authorization?: string): Promise<CallOutcome<RefreshResponse__Output>> {
    return new Promise((resolve) =>
      this.client.Refresh(request, metadataWith(authorization), (error, response) =>
        resolve(outcome(error, response)),
      ),
    );
  }

  health(request: HealthRequest, authorization?: string): Promise<CallOutcome<HealthResponse__Output>> {
    return new Promise((resolve) =>
      this.client.Health(request, metadataWith(authorization), (error, response) =>
        resolve(outcome(error, response)),
      ),
    );
  }

  close(): void {
    this.client.close();
  }
}

/** `Bearer <push token>` as the control plane signs it for `service`. */
export function pushAuthorization(
  keys: Pick<PushKeyPair, 'privateKeyPem'>,
  service: string,
  ttlSeconds?: number,
) {
  return `Bearer ${signPushToken(keys.privateKeyPem, { service, ttlSeconds })}`;
}

/** A fresh Ed25519 pair: a control plane of a test's own, or one nobody trusts (to forge tokens with). */
export function generatePushKeys(): PushKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function metadataWith(authorization: string | undefined): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (authorization !== undefined) metadata.set('authorization', authorization);
  return metadata;
}

function outcome<T>(error: grpc.ServiceError | null, response: T | undefined): CallOutcome<T> {
  if (!error) return { code: grpc.status.OK, response };
  const field = error.metadata?.get('error-field')[0];
  return {
    code: error.code,
    details: error.details,
    ...(field === undefined ? {} : { errorField: field.toString() }),
  };
}
