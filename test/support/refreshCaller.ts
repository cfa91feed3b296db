import * as grpc from '@grpc/grpc-js';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { keyFromFile } from '../../common/keyFiles';
import { loadProto } from '../../common/proto';
import {
  keysHash,
  type PushScope,
  refreshScope,
  sealingContext,
  signPushGrant,
} from '../../common/pushGrant';
import { ValueSealer } from '../../common/sealedValue';
import type { ConfigClient } from '../../sdk/configClient';
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

/** An instance as a push addresses it: who it is, where it listens, the key its values are sealed to. */
export interface PushTarget {
  readonly service: string;
  readonly instanceId: string;
  /** `ip:port` */
  readonly address: string;
  readonly sealingKey: string;
}

export function targetOf(client: ConfigClient, service: string): PushTarget {
  return {
    service,
    instanceId: client.instanceId,
    address: `127.0.0.1:${client.refreshPort}`,
    sealingKey: client.sealingKey,
  };
}

/** A Refresh call in the clear, as a test writes it: the control plane seals the value and signs it. */
export interface PlainPush {
  readonly tenant_id: string;
  readonly key: string;
  readonly service?: string;
  readonly version: number;
  readonly value?: string;
  readonly removed?: boolean;
  readonly format?: string;
  readonly rollout_id?: string;
  readonly revert_from?: number;
}

/**
 * Stands in for the rollout worker's signing (activities/refresh/refreshPusher.ts): a key pair of its
 * own, and calls built as the worker builds them. `grant` overrides what the grant authorises, to forge
 * the mismatches an attacker would try.
 */
export class TestControlPlane {
  readonly publicKeyPem: string;
  private readonly privateKey: KeyObject;

  /** A fresh key pair (a control plane nobody else trusts), or the stack's own. */
  constructor(keys?: { privateKey: KeyObject; publicKeyPem: string }) {
    if (keys) {
      this.privateKey = keys.privateKey;
      this.publicKeyPem = keys.publicKeyPem;
    } else {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      this.privateKey = privateKey;
      this.publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    }
  }

  /** The stack's control plane: the key the rollout worker signs with (PUSH_SIGNING_KEY_FILE). */
  static ofStack(): TestControlPlane {
    return new TestControlPlane({
      privateKey: keyFromFile(requiredEnv('PUSH_SIGNING_KEY_FILE'), 'private', 'PUSH_SIGNING_KEY_FILE'),
      publicKeyPem: readFileSync(requiredEnv('PUSH_VERIFY_KEY_FILE'), 'utf8'),
    });
  }

  /** `[request, authorization]`, to spread into RefreshCaller.refresh. */
  refresh(
    target: PushTarget,
    push: PlainPush,
    options: { grant?: Partial<PushScope>; grantTarget?: Partial<PushTarget>; nowSeconds?: number } = {},
  ): [RefreshRequest, string] {
    const format = push.format ?? 'json';
    const scope = refreshScope({
      tenantId: push.tenant_id,
      key: push.key,
      service: push.service,
      version: push.version,
      revertFrom: push.revert_from,
      value: push.removed ? undefined : (push.value ?? ''),
      format,
      rolloutId: push.rollout_id,
    });
    const request: RefreshRequest = {
      tenant_id: push.tenant_id,
      key: push.key,
      service: push.service ?? '',
      version: push.version,
      ...(push.removed
        ? { removed: true }
        : {
            sealed_value: new ValueSealer().seal(
              target.sealingKey,
              push.value ?? '',
              sealingContext({
                tenantId: push.tenant_id,
                key: push.key,
                service: push.service,
                version: push.version,
              }),
            ),
          }),
      format,
      rollout_id: push.rollout_id ?? '',
      revert_from: push.revert_from ?? 0,
    };
    return [request, this.authorization(target, { ...scope, ...options.grant } as PushScope, options)];
  }

  /** `[request, authorization]` for a Health call about `keys`. */
  health(
    target: PushTarget,
    keys: readonly { tenantId: string; key: string; service?: string }[],
  ): [HealthRequest, string] {
    const request = {
      keys: keys.map((k) => ({ tenant_id: k.tenantId, key: k.key, service: k.service ?? '' })),
    };
    return [request, this.authorization(target, { op: 'health', keysHash: keysHash(keys) })];
  }

  authorization(
    target: PushTarget,
    scope: PushScope,
    options: { grantTarget?: Partial<PushTarget>; nowSeconds?: number } = {},
  ): string {
    const grantTarget = { ...target, ...options.grantTarget };
    return `Bearer ${signPushGrant(this.privateKey, grantTarget, scope, options.nowSeconds)}`;
  }
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

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the jest global setup exports the stack's environment`);
  return value;
}
