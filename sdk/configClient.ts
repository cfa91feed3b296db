import type { KeyObject } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import type { ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import type { ConfigAddress } from '../common/configAddress';
import { InvalidArgumentError } from '../common/errors';
import { assertConfigKey, assertServiceName, isTenantId } from '../common/identifiers';
import { createLogger, type Logger } from '../common/logger';
import { NonceGuard } from '../common/pushGrant';
import { InstancePushSessions } from '../common/pushSession';
import { generateSealingKeys, type SealingKeyPair } from '../common/sealedValue';
import { ed25519Key } from '../common/signedToken';
import {
  advertisedAddress,
  type CloudMapRegistration,
  instanceAttributes,
  registerInstance,
} from './cloudMapRegistration';
import { ConfigReaderClient, type TokenProvider } from './configReaderClient';
import { ConfigClientStateError } from './errors';
import { type ChangeListener, HeldConfig, type HeldValue } from './heldConfig';
import { type Outcome, OutcomeCounters } from './outcomeCounters';
import {
  createCacheRefreshHandlers,
  type RefreshServer,
  type RefreshTls,
  type ServingStatus,
  startRefreshServer,
} from './refreshServer';
import { assertServesTenant, type InstanceTenancy } from './tenancy';
import { DEFAULT_VERSION_CHECK_INTERVAL_MS, VersionCheck } from './versionCheck';
import { Registry } from 'prom-client';
import { SdkMetrics } from './metrics';

export interface PreloadKey {
  readonly tenantId: string;
  readonly key: string;
  /** For per-service keys (`param_config_`); omit for tenant-wide ones. */
  readonly service?: string;
}

export interface CloudMapOptions {
  readonly client: ServiceDiscoveryClient;
  /** An HTTP namespace (common/cloudMap.ts DEFAULT_CLOUD_MAP_NAMESPACE locally). */
  readonly namespace: string;
  /** Defaults to `${service}-${address}-${port}`. */
  readonly instanceId?: string;
  readonly zone?: string;
  /** The IPv4 the control plane pushes to; defaults to the refresh host, or the first external IPv4. */
  readonly advertiseAddress?: string;
  /** Create the Cloud Map service when it does not exist (local runs; on AWS the template makes it). */
  readonly createServiceIfMissing?: boolean;
  /**
   * The token the instance asks for its instance grant with (IssueInstanceGrant). A silo defaults to its
   * tenant's service token (`tokenFor`); a pooled instance must give a token of the platform's
   * `pool-services` group, since its grant lets it receive every tenant's values.
   */
  readonly grantToken?: () => Promise<string>;
}

/** Whether the app is fit to serve; asked on every Health call (the rollout's health gate). */
export type HealthHook = () => boolean | Promise<boolean>;

/**
 * Whether the app serves one tenant's key well; asked on Health for the key a rollout is about. A
 * pooled instance that can tell tenants apart gives it, so one tenant's broken value fails only that
 * tenant's rollouts.
 */
export type KeyHealthHook = (key: PreloadKey) => boolean | Promise<boolean>;

export interface ConfigClientOptions {
  /** The consuming service's name: push tokens must be for it, and it names the Cloud Map service. */
  readonly service: string;
  readonly tenancy: InstanceTenancy;
  /** ConfigService's gRPC address, `host:port`. */
  readonly configServiceAddress: string;
  /** Defaults to plaintext (the local stack); give TLS credentials anywhere else. */
  readonly configServiceCredentials?: grpc.ChannelCredentials;
  /** A service token for the tenant: tokens carry their tenant, so a pooled instance needs one per tenant. */
  readonly tokenFor: TokenProvider;
  /** Loaded before start() resolves, so they are never "not found" while the first load runs. */
  readonly preload?: readonly PreloadKey[];
  /** Where the CacheRefresh server listens (port 0 picks a free one), and its TLS where the deployment gives certificates. */
  readonly refreshServer: { readonly host: string; readonly port: number; readonly tls?: RefreshTls };
  /** The control plane's Ed25519 public key (PEM) that push grants are verified with. */
  readonly pushVerifyKeyPem: string;
  /** Register in Cloud Map so rollouts find this instance; omit to run unregistered. */
  readonly cloudMap?: CloudMapOptions;
  /**
   * How often the instance makes sure Cloud Map still has its registration, registering again when it
   * is gone (removed by hand, or lost by Cloud Map); 0 turns it off. Default 30 s.
   */
  readonly registrationCheckIntervalMs?: number;
  /** Period of the safety-net version check; 0 turns it off. Default 60 s. */
  readonly versionCheckIntervalMs?: number;
  readonly logger?: Logger;
  readonly health?: HealthHook;
  /** Per tenant and key; without it, each key reports the instance's overall health. */
  readonly keyHealth?: KeyHealthHook;
  /**
   * Where the client registers its metrics (the service's own registry, served on its /metrics); one of
   * its own otherwise, read from `metricsRegistry`. One ConfigClient per registry.
   */
  readonly metricsRegistry?: Registry;
}

type State = 'new' | 'starting' | 'ready' | 'stopping' | 'stopped';

/** A grant is renewed once this share of its lifetime has passed. */
const GRANT_RENEWAL_POINT = 0.5;
/** A failed renewal is tried again after this long (while the current grant lasts). */
const GRANT_RENEWAL_RETRY_MS = 60_000;
export const DEFAULT_REGISTRATION_CHECK_INTERVAL_MS = 30_000;

/**
 * What a consuming service embeds: holds its tenants' config in memory, serves CacheRefresh so rollouts
 * can push new versions to it, registers itself in Cloud Map so rollouts find it, and re-checks live
 * versions now and then in case a push was lost. Ready only once the preloaded keys are loaded.
 */
export class ConfigClient {
  private readonly options: ConfigClientOptions;
  private readonly logger: Logger;
  private readonly held: HeldConfig;
  private readonly outcomes = new OutcomeCounters();
  private readonly reader: ConfigReaderClient;
  private readonly versionCheck: VersionCheck;
  private readonly preload: readonly ConfigAddress[];
  private readonly loading = new Map<string, Promise<void>>();
  /** Values pushed to this instance are sealed to it; the private half never leaves the process. */
  private readonly sealingKeys: SealingKeyPair = generateSealingKeys();
  private readonly pushSessions: InstancePushSessions;
  private readonly nonces = new NonceGuard();
  private readonly metrics: SdkMetrics;
  private advertised: string | undefined;
  private grantRenewal: NodeJS.Timeout | undefined;
  private registrationCheck: NodeJS.Timeout | undefined;
  /** A registration check under way, which stop() lets finish for the same reason. */
  private checkingRegistration: Promise<void> | undefined;
  /** A renewal under way, which stop() lets finish so the registration it makes is the one removed. */
  private renewing: Promise<void> | undefined;
  private state: State = 'new';
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private healthy = true;
  private server: RefreshServer | undefined;
  private registration: CloudMapRegistration | undefined;
  private boundInstanceId: string | undefined;

  constructor(options: ConfigClientOptions) {
    this.pushSessions = new InstancePushSessions(assertOptions(options), this.sealingKeys);
    this.options = options;
    this.preload = (options.preload ?? []).map((key, index) => this.addressOf(key, `preload[${index}].`));
    this.logger = options.logger ?? createLogger({ component: 'config-sdk', service: options.service });
    this.held = new HeldConfig((error, change) =>
      this.logger.error('a config change listener failed', {
        tenantId: change.tenantId,
        key: change.key,
        service: change.service,
        version: change.heldVersion,
        rolloutId: change.rolloutId,
        error,
      }),
    );
    this.metrics = new SdkMetrics(
      options.metricsRegistry ?? new Registry(),
      () => this.held.addresses().length,
    );
    this.reader = new ConfigReaderClient(options.configServiceAddress, options.tokenFor, {
      credentials: options.configServiceCredentials,
    });
    this.versionCheck = new VersionCheck({
      held: this.held,
      reader: this.reader,
      intervalMs: options.versionCheckIntervalMs ?? DEFAULT_VERSION_CHECK_INTERVAL_MS,
      logger: this.logger,
      metrics: this.metrics,
    });
  }

  /**
   * Loads the preloaded keys, then serves CacheRefresh, then registers in Cloud Map; resolves only
   * then. On failure, undoes what it did and rejects.
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new ConfigClientStateError('start() may be called once');
    this.state = 'starting';
    this.starting = this.startInOrder().then(
      () => {
        this.state = 'ready';
      },
      async (error: unknown) => {
        await this.shutDown();
        this.state = 'stopped';
        throw error;
      },
    );
    return this.starting;
  }

  /** Deregisters from Cloud Map first (so no new pushes are aimed here), then shuts down. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.state === 'starting') await this.starting?.catch(() => undefined);
      if (this.state === 'stopped') return;
      this.state = 'stopping';
      await this.shutDown();
      this.state = 'stopped';
    })();
    return this.stopping;
  }

  /**
   * The held value of a key for a tenant, read through ConfigService (and then held) on a miss.
   * Undefined when the key does not exist. Waits while start() is loading.
   */
  async get(tenantId: string, key: string, service?: string): Promise<HeldValue | undefined> {
    if (this.state === 'new') throw new ConfigClientStateError('call start() before get()');
    if (this.state === 'starting') await this.starting;
    if (this.state === 'stopped') throw new ConfigClientStateError('the config client is stopped');
    const address = this.addressOf({ tenantId, key, service }, '');
    if (!this.held.has(address)) await this.load(address);
    return this.held.value(address);
  }

  /**
   * Records what the application saw of one call that used a tenant's key: `ok` or `error`. Counted per
   * tenant, key and the version held (`version`, when given, must be that held version: the outcome of
   * a value the instance no longer holds is not counted), and answered on Health to the rollouts of
   * that tenant's key, whose canary analysis compares the candidate's error ratio with live's. Only keys
   * the instance holds are counted, two counters each; answers whether the call was counted.
   */
  record(
    tenantId: string,
    key: string,
    outcome: Outcome,
    options: { readonly service?: string; readonly version?: number } = {},
  ): boolean {
    if (outcome !== 'ok' && outcome !== 'error')
      throw new InvalidArgumentError("outcome must be 'ok' or 'error'", 'outcome');
    const address = this.addressOf({ tenantId, key, service: options.service }, '');
    const held = this.held.value(address);
    if (!held || (options.version !== undefined && options.version !== held.version)) return false;
    this.outcomes.record(address, held.version, outcome);
    return true;
  }

  /**
   * Calls `listener` whenever the held version of `key` changes for any tenant: by a push, a rollback,
   * a removal or the version check; not for a key's first load. Returns the unsubscribe function.
   */
  onChange(key: string, listener: ChangeListener): () => void {
    assertConfigKey(key);
    return this.held.onChange(key, listener);
  }

  /** Reports NOT_SERVING on Health while false, whatever the health hook says. */
  setHealthy(healthy: boolean): void {
    this.healthy = healthy;
  }

  /** The port CacheRefresh listens on (useful with port 0). */
  get refreshPort(): number {
    if (!this.server) throw new ConfigClientStateError('the refresh server is not running');
    return this.server.port;
  }

  /** The public half of this instance's sealing key, as its instance grant names it. */
  get sealingKey(): string {
    return this.sealingKeys.publicKey;
  }

  /** The registry this client's metrics are in: serve it on the service's /metrics. */
  get metricsRegistry(): Registry {
    return this.metrics.registry;
  }

  /** The id this instance reports in Health and registers in Cloud Map. */
  get instanceId(): string {
    if (!this.boundInstanceId) throw new ConfigClientStateError('the instance id is known once started');
    return this.boundInstanceId;
  }

  private async startInOrder(): Promise<void> {
    const { options } = this;
    const { keyHealth } = options;
    await Promise.all(this.preload.map((address) => this.load(address)));
    this.server = await startRefreshServer(
      createCacheRefreshHandlers({
        service: options.service,
        tenancy: options.tenancy,
        pushSessions: this.pushSessions,
        nonces: this.nonces,
        held: this.held,
        outcomes: this.outcomes,
        status: () => this.status(),
        ...(keyHealth ? { keyStatus: (address: ConfigAddress) => this.keyStatus(address, keyHealth) } : {}),
        target: () => ({
          service: options.service,
          instanceId: this.boundInstanceId ?? '',
          ...(this.advertised ? { address: this.advertised } : {}),
        }),
        logger: this.logger,
        metrics: this.metrics,
      }),
      { host: options.refreshServer.host, port: options.refreshServer.port },
      options.refreshServer.tls,
    );
    const { cloudMap } = options;
    const address = cloudMap
      ? advertisedAddress(options.refreshServer.host, cloudMap.advertiseAddress)
      : options.refreshServer.host;
    this.boundInstanceId = cloudMap?.instanceId ?? `${options.service}-${address}-${this.server.port}`;
    if (cloudMap) {
      this.advertised = `${address}:${this.server.port}`;
      await this.register(cloudMap, address, this.server.port);
      this.scheduleRegistrationCheck(cloudMap, address, this.server.port);
      // The preload read before the registration: a rollout that promoted meanwhile and swept before
      // this instance was findable never pushed here. Read once more, now that every later sweep finds it
      // (a rollout ends by telling the config service's caches, then sweeping: this read gets the new state).
      await this.versionCheck.checkNow();
    }
    this.versionCheck.start();
    this.logger.info('config client ready', {
      instanceId: this.boundInstanceId,
      refreshPort: this.server.port,
      preloaded: this.preload.length,
      registered: cloudMap !== undefined,
    });
  }

  /**
   * Registers with a fresh instance grant, and schedules the next registration before the grant expires
   * (Cloud Map's RegisterInstance is an upsert: the instance stays discoverable throughout).
   */
  private async register(cloudMap: CloudMapOptions, address: string, port: number): Promise<void> {
    const { options } = this;
    const token = await this.grantToken(cloudMap);
    const { grant, expiresAt } = await this.reader.issueInstanceGrant(
      { service: options.service, tenancy: options.tenancy.kind, sealingKey: this.sealingKeys.publicKey },
      token,
    );
    this.registration = await registerInstance(cloudMap.client, {
      namespace: cloudMap.namespace,
      service: options.service,
      instanceId: this.boundInstanceId ?? '',
      attributes: instanceAttributes({ address, port, tenancy: options.tenancy, zone: cloudMap.zone, grant }),
      createServiceIfMissing: cloudMap.createServiceIfMissing ?? false,
    });
    if (this.state === 'stopping' || this.state === 'stopped') return;
    const lifetimeMs = Math.max(0, expiresAt * 1000 - Date.now());
    this.scheduleRenewal(cloudMap, address, port, lifetimeMs * GRANT_RENEWAL_POINT, expiresAt);
  }

  private scheduleRenewal(
    cloudMap: CloudMapOptions,
    address: string,
    port: number,
    delayMs: number,
    expiresAt: number,
  ): void {
    this.grantRenewal = setTimeout(() => {
      this.renewing = this.register(cloudMap, address, port).catch((error: unknown) => {
        if (this.state === 'stopping' || this.state === 'stopped') return;
        const remainingMs = expiresAt * 1000 - Date.now();
        this.logger.error('renewing the instance grant failed; retrying while the current one lasts', {
          instanceId: this.boundInstanceId,
          expiresAt: new Date(expiresAt * 1000).toISOString(),
          error,
        });
        if (remainingMs > 0) {
          this.scheduleRenewal(
            cloudMap,
            address,
            port,
            Math.min(GRANT_RENEWAL_RETRY_MS, remainingMs),
            expiresAt,
          );
        }
      });
    }, delayMs);
    this.grantRenewal.unref();
  }

  /**
   * Registrations are otherwise made only at start and at grant renewals: one removed meanwhile would
   * leave the instance out of every rollout (and the reconciler) until then.
   */
  private scheduleRegistrationCheck(cloudMap: CloudMapOptions, address: string, port: number): void {
    const intervalMs = this.options.registrationCheckIntervalMs ?? DEFAULT_REGISTRATION_CHECK_INTERVAL_MS;
    if (intervalMs === 0) return;
    this.registrationCheck = setTimeout(() => {
      this.checkingRegistration = this.registerIfMissing(cloudMap, address, port).finally(() => {
        if (this.state === 'ready') this.scheduleRegistrationCheck(cloudMap, address, port);
      });
    }, intervalMs);
    this.registrationCheck.unref();
  }

  private async registerIfMissing(cloudMap: CloudMapOptions, address: string, port: number): Promise<void> {
    try {
      if (!this.registration || (await this.registration.isRegistered())) return;
      if (this.state !== 'ready') return;
      this.logger.warn('the Cloud Map registration is gone; registering again', {
        instanceId: this.boundInstanceId,
      });
      clearTimeout(this.grantRenewal);
      await this.register(cloudMap, address, port);
    } catch (error) {
      this.logger.error('checking or restoring the Cloud Map registration failed; trying again later', {
        instanceId: this.boundInstanceId,
        error,
      });
    }
  }

  private grantToken(cloudMap: CloudMapOptions): Promise<string> {
    const { tenancy } = this.options;
    // assertOptions made sure a pooled instance gives a token of its own.
    return cloudMap.grantToken?.() ?? this.options.tokenFor(tenancy.kind === 'silo' ? tenancy.tenantId : '');
  }

  /** Deregistration failures are logged, not thrown: the process is going away either way. */
  private async shutDown(): Promise<void> {
    clearTimeout(this.grantRenewal);
    clearTimeout(this.registrationCheck);
    await Promise.all([this.renewing, this.checkingRegistration]);
    if (this.registration) {
      await this.registration.deregister().catch((error: unknown) =>
        this.logger.error('Cloud Map deregistration failed; discovery may still list this instance', {
          instanceId: this.registration?.instanceId,
          error,
        }),
      );
      this.registration = undefined;
    }
    await Promise.all([this.versionCheck.stop(), this.server?.stop()]);
    this.server = undefined;
    this.reader.close();
    this.logger.info('config client stopped', { instanceId: this.boundInstanceId });
  }

  private async status(): Promise<ServingStatus> {
    if (this.state !== 'ready' || !this.healthy) return 'NOT_SERVING';
    if (!this.options.health) return 'SERVING';
    try {
      return (await this.options.health()) ? 'SERVING' : 'NOT_SERVING';
    } catch (error) {
      this.logger.warn('the health hook failed; reporting NOT_SERVING', { error });
      return 'NOT_SERVING';
    }
  }

  /** With a `keyHealth` hook only: without one, every key reports the overall status. */
  private async keyStatus(address: ConfigAddress, keyHealth: KeyHealthHook): Promise<ServingStatus> {
    if (this.state !== 'ready' || !this.healthy) return 'NOT_SERVING';
    try {
      return (await keyHealth(address)) ? 'SERVING' : 'NOT_SERVING';
    } catch (error) {
      this.logger.warn('the key health hook failed; reporting the key NOT_SERVING', {
        tenantId: address.tenantId,
        key: address.key,
        error,
      });
      return 'NOT_SERVING';
    }
  }

  /** One ConfigService read per address at a time, however many callers miss together. */
  private load(address: ConfigAddress): Promise<void> {
    const id = JSON.stringify([address.tenantId, address.service ?? '', address.key]);
    let pending = this.loading.get(id);
    if (!pending) {
      pending = this.reader
        .getLive(address)
        .then((live) => {
          this.held.applyRead(address, live, 'load');
          this.logger.debug('loaded', { ...address, version: live?.version ?? 0 });
        })
        .finally(() => this.loading.delete(id));
      this.loading.set(id, pending);
    }
    return pending;
  }

  private addressOf(request: PreloadKey, fieldPrefix: string): ConfigAddress {
    if (!isTenantId(request.tenantId)) {
      throw new InvalidArgumentError('tenantId is not a valid tenant id', `${fieldPrefix}tenantId`);
    }
    assertConfigKey(request.key);
    if (request.service !== undefined && request.service !== '') assertServiceName(request.service);
    assertServesTenant(
      this.options.tenancy,
      request.tenantId,
      this.options.service,
      `${fieldPrefix}tenantId`,
    );
    return request.service
      ? { tenantId: request.tenantId, key: request.key, service: request.service }
      : { tenantId: request.tenantId, key: request.key };
  }
}

/** Mistakes in options stop the service at construction, naming the option; answers the push key. */
function assertOptions(options: ConfigClientOptions): KeyObject {
  assertServiceName(options.service);
  if (options.tenancy.kind === 'silo' && !isTenantId(options.tenancy.tenantId)) {
    throw new InvalidArgumentError('tenancy.tenantId is not a valid tenant id', 'tenancy.tenantId');
  }
  const pushVerifyKey = ed25519Key(options.pushVerifyKeyPem, 'public');
  if (!pushVerifyKey) {
    throw new InvalidArgumentError(
      'pushVerifyKeyPem must be an Ed25519 public key in PEM',
      'pushVerifyKeyPem',
    );
  }
  const interval = options.versionCheckIntervalMs;
  if (interval !== undefined && (!Number.isSafeInteger(interval) || interval < 0)) {
    throw new InvalidArgumentError(
      'versionCheckIntervalMs must be a non-negative integer',
      'versionCheckIntervalMs',
    );
  }
  const check = options.registrationCheckIntervalMs;
  if (check !== undefined && (!Number.isSafeInteger(check) || check < 0)) {
    throw new InvalidArgumentError(
      'registrationCheckIntervalMs must be a non-negative integer',
      'registrationCheckIntervalMs',
    );
  }
  if (options.tenancy.kind === 'pool' && options.cloudMap && !options.cloudMap.grantToken) {
    throw new InvalidArgumentError(
      'a pooled instance registered in Cloud Map needs cloudMap.grantToken: a token of the pool-services group',
      'cloudMap.grantToken',
    );
  }
  return pushVerifyKey;
}
