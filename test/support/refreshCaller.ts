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
import {
  InstancePushSessions,
  PUSH_SESSION_METADATA,
  type WorkerSessionView,
  WorkerPushSessions,
} from '../../common/pushSession';
import { openSealedValue, type SealingKeyPair, sealValue } from '../../common/sealedValue';
import { ed25519Key } from '../../common/signedToken';
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

/** What a CacheRefresh call carries: a push grant and the worker's push session certificate. */
export interface PushCredentials {
  /** The `authorization` header: `Bearer <grant>`, or whatever a test sends instead. */
  readonly authorization?: string;
  /** The `x-push-session` header. */
  readonly session?: string;
}

/** Stands in for the control plane: calls an instance's CacheRefresh with whatever credentials a test gives. */
export class RefreshCaller {
  private readonly client: CacheRefreshClient;

  constructor(address: string) {
    const { proto } = loadProto<ProtoGrpcType>('refresh.proto');
    this.client = new proto.configsvc.v1.CacheRefresh(address, grpc.credentials.createInsecure());
  }

  refresh(
    request: RefreshRequest,
    credentials: PushCredentials = {},
  ): Promise<CallOutcome<RefreshResponse__Output>> {
    return new Promise((resolve) =>
      this.client.Refresh(request, metadataWith(credentials), (error, response) =>
        resolve(outcome(error, response)),
      ),
    );
  }

  health(
    request: HealthRequest,
    credentials: PushCredentials = {},
  ): Promise<CallOutcome<HealthResponse__Output>> {
    return new Promise((resolve) =>
      this.client.Health(request, metadataWith(credentials), (error, response) =>
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

/** When a test's control plane opened its push session, and so when its certificate expires. */
export interface CredentialOptions {
  readonly grantTarget?: Partial<PushTarget>;
  /** When the grant was made. */
  readonly nowSeconds?: number;
  /** When the session was opened: an hour or more ago makes an expired certificate. */
  readonly sessionNowSeconds?: number;
}

/**
 * Stands in for the rollout worker (activities/refresh/refreshPusher.ts): a key pair of its own, a push
 * session certified with it, and calls built as the worker builds them. `grant` overrides what the grant
 * authorises, to forge the mismatches an attacker would try.
 */
export class TestControlPlane {
  readonly publicKeyPem: string;
  private readonly privateKey: KeyObject;
  private readonly sessions: WorkerPushSessions;

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
    this.sessions = new WorkerPushSessions(this.privateKey);
  }

  /** The session a call made now carries; `nowSeconds` in the past opens one that has since expired. */
  session(nowSeconds?: number): WorkerSessionView {
    return nowSeconds === undefined
      ? this.sessions.current()
      : new WorkerPushSessions(this.privateKey).current(nowSeconds);
  }

  /** The stack's control plane: the key the rollout worker signs with (PUSH_SIGNING_KEY_FILE). */
  static ofStack(): TestControlPlane {
    return new TestControlPlane({
      privateKey: keyFromFile(requiredEnv('PUSH_SIGNING_KEY_FILE'), 'private', 'PUSH_SIGNING_KEY_FILE'),
      publicKeyPem: readFileSync(requiredEnv('PUSH_VERIFY_KEY_FILE'), 'utf8'),
    });
  }

  /** `[request, credentials]`, to spread into RefreshCaller.refresh. */
  refresh(
    target: PushTarget,
    push: PlainPush,
    options: CredentialOptions & { grant?: Partial<PushScope> } = {},
  ): [RefreshRequest, PushCredentials] {
    const session = this.session(options.sessionNowSeconds);
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
            sealed_value: sealValue(
              session.keysFor(target.sealingKey).sealKey,
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
    return [request, this.credentials(session, target, { ...scope, ...options.grant } as PushScope, options)];
  }

  /** `[request, credentials]` for a Health call about `keys`. */
  health(
    target: PushTarget,
    keys: readonly { tenantId: string; key: string; service?: string }[],
  ): [HealthRequest, PushCredentials] {
    const request = {
      keys: keys.map((k) => ({ tenant_id: k.tenantId, key: k.key, service: k.service ?? '' })),
    };
    return [request, this.authorization(target, { op: 'health', keysHash: keysHash(keys) })];
  }

  /** A grant for `scope`, MAC'd with the key this control plane's session shares with `target`. */
  authorization(target: PushTarget, scope: PushScope, options: CredentialOptions = {}): PushCredentials {
    return this.credentials(this.session(options.sessionNowSeconds), target, scope, options);
  }

  private credentials(
    session: WorkerSessionView,
    target: PushTarget,
    scope: PushScope,
    options: CredentialOptions,
  ): PushCredentials {
    const grantTarget = { ...target, ...options.grantTarget };
    const { macKey } = session.keysFor(target.sealingKey);
    return {
      authorization: `Bearer ${signPushGrant(macKey, grantTarget, scope, options.nowSeconds)}`,
      session: session.certificate,
    };
  }
}

/**
 * Opens a value pushed to an instance holding `sealingKeys`, as that instance would: from the session
 * certificate the call carried and the control plane's public key (which every instance holds).
 */
export function openAsInstance(
  controlPlanePublicKeyPem: string,
  sealingKeys: SealingKeyPair,
  pushed: { readonly session: string; readonly sealed: Buffer; readonly context: string },
): string {
  const sessions = new InstancePushSessions(ed25519Key(controlPlanePublicKeyPem, 'public')!, sealingKeys);
  return openSealedValue(sessions.keysFor(pushed.session).sealKey, pushed.sealed, pushed.context);
}

function metadataWith(credentials: PushCredentials): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (credentials.authorization !== undefined) metadata.set('authorization', credentials.authorization);
  if (credentials.session !== undefined) metadata.set(PUSH_SESSION_METADATA, credentials.session);
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
