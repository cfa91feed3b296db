import * as grpc from '@grpc/grpc-js';
import type { ConfigAddress, ValueFormat } from '../common/configAddress';
import type { Tenancy } from '../common/cloudMap';
import { InvalidArgumentError } from '../common/errors';
import { CLIENT_CHANNEL_OPTIONS, loadProto } from '../common/proto';
import type { ProtoGrpcType } from '../gen/proto/config';
import type { ConfigServiceClient } from '../gen/proto/configsvc/v1/ConfigService';
import type { GetConfigResponse__Output } from '../gen/proto/configsvc/v1/GetConfigResponse';
import type { IssueInstanceGrantResponse__Output } from '../gen/proto/configsvc/v1/IssueInstanceGrantResponse';
import { ConfigServiceError } from './errors';
import type { LiveValue } from './heldConfig';
import { PENDING } from './versionCheck';

/** Gives the service token (a Cognito access token in group `services`) for one tenant's reads. */
export type TokenProvider = (tenantId: string) => Promise<string>;

const DEFAULT_DEADLINE_MS = 5_000;

/**
 * gRPC retries a call that found ConfigService unreachable (UNAVAILABLE) with backoff, within the call's
 * deadline: a service starting next to a ConfigService that is restarting waits rather than fails.
 */
const RETRY_SERVICE_CONFIG = JSON.stringify({
  methodConfig: [
    {
      name: [{ service: 'configsvc.v1.ConfigService' }],
      retryPolicy: {
        maxAttempts: 5,
        initialBackoff: '0.2s',
        maxBackoff: '2s',
        backoffMultiplier: 2,
        retryableStatusCodes: ['UNAVAILABLE'],
      },
    },
  ],
});

/**
 * Reads live config from ConfigService on behalf of one tenant at a time. The tenant is never named in
 * the request: it is the one in the token `tokenFor` gives, as ConfigService accepts nothing else.
 */
export class ConfigReaderClient {
  private readonly client: ConfigServiceClient;
  private readonly deadlineMs: number;

  constructor(
    address: string,
    private readonly tokenFor: TokenProvider,
    options: { readonly credentials?: grpc.ChannelCredentials; readonly deadlineMs?: number } = {},
  ) {
    const { proto } = loadProto<ProtoGrpcType>('config.proto');
    this.client = new proto.configsvc.v1.ConfigService(
      address,
      options.credentials ?? grpc.credentials.createInsecure(),
      { ...CLIENT_CHANNEL_OPTIONS, 'grpc.service_config': RETRY_SERVICE_CONFIG },
    );
    this.deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  }

  /**
   * The live version of one key; undefined when the tenant has no such key (or, unless `acceptPending`,
   * when no version of it is live yet); PENDING, with `acceptPending`, when it exists with none live.
   */
  async getLive(address: ConfigAddress): Promise<LiveValue | undefined>;
  async getLive(
    address: ConfigAddress,
    options: { readonly acceptPending: true },
  ): Promise<LiveValue | undefined | typeof PENDING>;
  async getLive(
    address: ConfigAddress,
    options?: { readonly acceptPending: true },
  ): Promise<LiveValue | undefined | typeof PENDING> {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${await this.tokenFor(address.tenantId)}`);
    const response = await new Promise<GetConfigResponse__Output | undefined>((resolve, reject) => {
      this.client.GetConfig(
        {
          key: address.key,
          service: address.service ?? '',
          version: 0,
          accept_pending: options?.acceptPending ?? false,
        },
        metadata,
        { deadline: Date.now() + this.deadlineMs },
        (error, answer) => {
          if (!error) resolve(answer);
          else if (error.code === grpc.status.NOT_FOUND) resolve(undefined);
          else reject(toConfigServiceError(error));
        },
      );
    });
    if (!response) return undefined;
    if (response.pending && options?.acceptPending) return PENDING;
    const entry = response.entry;
    if (!entry || entry.key !== address.key) {
      throw new ConfigServiceError(grpc.status.INTERNAL, `GetConfig answered no entry for "${address.key}"`);
    }
    if (address.service && !entry.service) {
      // Held under the wrong service, the key would never see its pushes (they name no service).
      throw new InvalidArgumentError(
        `"${address.key}" is a tenant-wide key: read it without a service`,
        'service',
      );
    }
    return {
      version: entry.version,
      value: entry.value,
      format: toFormat(entry.format),
      ...(entry.created_at ? { createdAt: entry.created_at } : {}),
    };
  }

  /** An instance grant for this instance's sealing key, asked for with `token` (see proto/config.proto). */
  async issueInstanceGrant(
    request: { readonly service: string; readonly tenancy: Tenancy; readonly sealingKey: string },
    token: string,
  ): Promise<{ readonly grant: string; readonly expiresAt: number }> {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const response = await new Promise<IssueInstanceGrantResponse__Output | undefined>((resolve, reject) => {
      this.client.IssueInstanceGrant(
        {
          service: request.service,
          tenancy: request.tenancy,
          sealing_key: Buffer.from(request.sealingKey, 'base64url'),
        },
        metadata,
        { deadline: Date.now() + this.deadlineMs },
        (error, answer) => (error ? reject(toConfigServiceError(error)) : resolve(answer)),
      );
    });
    if (!response?.grant) {
      throw new ConfigServiceError(grpc.status.INTERNAL, 'IssueInstanceGrant answered no grant');
    }
    return { grant: response.grant, expiresAt: response.expires_at };
  }

  close(): void {
    this.client.close();
  }
}

function toConfigServiceError(error: grpc.ServiceError): ConfigServiceError {
  const trailer = (name: string) => {
    const value = error.metadata?.get(name)[0];
    return value === undefined ? undefined : value.toString();
  };
  return new ConfigServiceError(error.code, error.details, trailer('error-code'), trailer('error-field'));
}

function toFormat(format: string): ValueFormat {
  if (format === 'json' || format === 'text') return format;
  throw new ConfigServiceError(grpc.status.INTERNAL, `GetConfig answered an unknown format "${format}"`);
}
