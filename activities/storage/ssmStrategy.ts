import {
  DeleteParameterCommand,
  GetParameterCommand,
  GetParametersCommand,
  LabelParameterVersionCommand,
  paginateGetParameterHistory,
  paginateGetParametersByPath,
  type Parameter,
  type ParameterHistory,
  PutParameterCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { SSM_LIVE_LABEL, SSM_ROOT } from '../../common/constants';
import {
  BackendUnavailableError,
  NotFoundError,
  VersionConflictError,
  VersionLimitError,
} from '../../common/errors';
import { callBackend } from './backendErrors';
import { unretried, WriteOutcomeUnknownError } from './unretriedWrite';
import type { ConfigAddress } from '../../common/configAddress';
import type {
  ConfigStrategy,
  ConfigVersion,
  HistoryEntry,
  HistoryPage,
  HistoryPageRequest,
  PutOptions,
} from './types';

export type SsmParameterTier = 'Standard' | 'Advanced';

const TIER_LIMIT_BYTES: Record<SsmParameterTier, number> = { Standard: 4096, Advanced: 8192 };
/** GetParameters takes at most 10 names per call. */
const GET_PARAMETERS_LIMIT = 10;
/** Parameter Store keeps this many versions of a parameter, dropping the oldest unless it is labelled. */
const PARAMETER_STORE_VERSION_LIMIT = 100;
const NOT_FOUND_ERRORS = new Set([
  'ParameterNotFound',
  'ParameterVersionNotFound',
  'ParameterVersionLabelNotFound',
]);
/** Marks, in a version's description, the idempotency token of the write that made it. */
const WRITE_ID_MARK = 'config-rollout write ';
/** And, after it, the older version a rollout copied (write ids hold no spaces). */
const COPY_OF_MARK = ' copy of version ';

/**
 * Per-service parameters in Parameter Store at `/config-service/{tenantId}/{service}/{key}`.
 * Parameter Store's own version numbers are the config versions; the `live` label marks the version
 * cache-miss reads get, so a candidate written by a rollout is invisible until the label moves to it.
 *
 * Parameter Store has no conditional put: the expected version is checked before the write and the
 * version Parameter Store assigns is checked after it. A writer that loses a race gets a conflict and its
 * value stays behind as an unlabelled, never-served version.
 */
export class SsmConfigStrategy implements ConfigStrategy {
  readonly backend = 'Parameter Store';
  readonly format = 'text';
  readonly perService = true;
  readonly maxValueBytes: number;

  constructor(
    private readonly client: SSMClient,
    private readonly tier: SsmParameterTier = 'Standard',
  ) {
    this.maxValueBytes = TIER_LIMIT_BYTES[tier];
  }

  async getLive(address: ConfigAddress): Promise<ConfigVersion> {
    const live = await this.getBySelector(address, SSM_LIVE_LABEL);
    const createdAt = await this.createdAt(address, live);
    return createdAt ? { ...live, createdAt } : live;
  }

  /**
   * When version 1 was written: Parameter Store numbers a name created again from 1. Unknown (undefined)
   * once version 1 has aged out of the 100 kept versions.
   */
  private async createdAt(address: ConfigAddress, live: ConfigVersion): Promise<string | undefined> {
    if (live.version === 1) return live.updatedAt;
    try {
      return (await this.getBySelector(address, '1')).updatedAt;
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  async getVersion(address: ConfigAddress, version: number): Promise<ConfigVersion> {
    return this.getBySelector(address, String(version));
  }

  async latest(address: ConfigAddress): Promise<HistoryEntry | undefined> {
    try {
      const [newest] = await this.history(address);
      return newest;
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  async put(address: ConfigAddress, value: string, options: PutOptions): Promise<ConfigVersion> {
    const name = parameterName(address);
    const latest = await this.latestVersion(name);
    if (latest !== options.expectedVersion) return this.resolveLostWrite(address, value, options, latest);

    const written = await callBackend(
      this.backend,
      () =>
        this.client.send(
          // No condition protects a resent PutParameter: a second version would follow a lost answer.
          unretried(
            new PutParameterCommand({
              Name: name,
              Value: value,
              Type: 'String',
              Tier: this.tier,
              Overwrite: options.expectedVersion > 0,
              Description: descriptionOf(options),
            }),
          ),
        ),
      (error) =>
        error instanceof WriteOutcomeUnknownError
          ? // Retryable: a retry with the same write id finds this write if it was applied.
            new BackendUnavailableError(`${this.backend} is unavailable: ${error.message}`, undefined, {
              cause: error,
            })
          : isNamed(error, 'ParameterAlreadyExists')
            ? new VersionConflictError(address.key, 0, 1)
            : isNamed(error, 'ParameterMaxVersionLimitExceeded')
              ? new VersionLimitError(address.key, this.backend, PARAMETER_STORE_VERSION_LIMIT)
              : undefined,
    );

    const version = written.Version ?? 0;
    if (version !== options.expectedVersion + 1) {
      throw new VersionConflictError(address.key, options.expectedVersion, version - 1);
    }
    if (options.makeLive) await this.promote(address, version);
    return this.getVersion(address, version);
  }

  async promote(address: ConfigAddress, version: number): Promise<void> {
    // Instances never apply an older version over a newer one, so live must not go back either.
    // Parameter Store has no conditional label: the check and the move are two calls (see Known limits).
    const live = await this.liveVersion(address);
    if (live > version) throw new VersionConflictError(address.key, version, live);
    // A label sits on one version at a time: labelling the new version moves it off the old one.
    const result = await callBackend(
      this.backend,
      () =>
        this.client.send(
          new LabelParameterVersionCommand({
            Name: parameterName(address),
            ParameterVersion: version,
            Labels: [SSM_LIVE_LABEL],
          }),
        ),
      whenNotFound(() => notFound(address, version)),
    );
    if (result.InvalidLabels?.length) {
      throw new Error(`Parameter Store refused label(s) ${result.InvalidLabels.join(', ')}`);
    }
  }

  async list(tenantId: string, service?: string): Promise<ConfigVersion[]> {
    const root = service ? `${SSM_ROOT}/${tenantId}/${service}/` : `${SSM_ROOT}/${tenantId}/`;
    const names = await this.namesUnder(root);
    const entries: ConfigVersion[] = [];
    for (let start = 0; start < names.length; start += GET_PARAMETERS_LIMIT) {
      const batch = names.slice(start, start + GET_PARAMETERS_LIMIT);
      const { Parameters } = await callBackend(this.backend, () =>
        this.client.send(
          new GetParametersCommand({
            Names: batch.map((name) => `${name}:${SSM_LIVE_LABEL}`),
            WithDecryption: true,
          }),
        ),
      );
      // Parameters without a live version (a first rollout still running) are left out, as in DynamoDB.
      for (const parameter of Parameters ?? []) {
        const address = parseParameterName(parameter.Name ?? '');
        if (address?.tenantId === tenantId) entries.push(this.toVersion(address, parameter));
      }
    }
    return entries.sort((a, b) => `${a.service}/${a.key}`.localeCompare(`${b.service}/${b.key}`));
  }

  async tenants(): Promise<string[]> {
    const names = await this.namesUnder(`${SSM_ROOT}/`);
    return [...new Set(names.flatMap((name) => parseParameterName(name)?.tenantId ?? []))].sort();
  }

  async history(address: ConfigAddress): Promise<HistoryEntry[]> {
    const name = parameterName(address);
    const versions = await callBackend(
      this.backend,
      async () => {
        const pages = paginateGetParameterHistory(
          { client: this.client, pageSize: 50 },
          { Name: name, WithDecryption: true },
        );
        const read: ParameterHistory[] = [];
        for await (const page of pages) read.push(...(page.Parameters ?? []));
        return read;
      },
      whenNotFound(() => notFound(address)),
    );
    return versions
      .map((entry) => ({
        ...this.toVersion(address, entry),
        live: entry.Labels?.includes(SSM_LIVE_LABEL) ?? false,
        ...marksOf(entry),
      }))
      .sort((a, b) => b.version - a.version);
  }

  /** Parameter Store keeps at most 100 versions: they are read whole and paged here. */
  async historyPage(address: ConfigAddress, page: HistoryPageRequest): Promise<HistoryPage> {
    const older = (await this.history(address)).filter(
      (entry) => page.before === undefined || entry.version < page.before,
    );
    return { entries: older.slice(0, page.pageSize), more: older.length > page.pageSize };
  }

  async delete(address: ConfigAddress): Promise<void> {
    await callBackend(
      this.backend,
      () => this.client.send(new DeleteParameterCommand({ Name: parameterName(address) })),
      whenNotFound(() => notFound(address)),
    );
  }

  private async getBySelector(address: ConfigAddress, selector: string): Promise<ConfigVersion> {
    const { Parameter } = await callBackend(
      this.backend,
      () =>
        this.client.send(
          new GetParameterCommand({ Name: `${parameterName(address)}:${selector}`, WithDecryption: true }),
        ),
      whenNotFound(() => notFound(address, selector === SSM_LIVE_LABEL ? undefined : Number(selector))),
    );
    if (!Parameter) throw notFound(address);
    return this.toVersion(address, Parameter);
  }

  /** The version the live label is on; 0 where none is. */
  private async liveVersion(address: ConfigAddress): Promise<number> {
    try {
      return (await this.getLive(address)).version;
    } catch (error) {
      if (error instanceof NotFoundError) return 0;
      throw error;
    }
  }

  private async latestVersion(name: string): Promise<number> {
    const absent = new NotFoundError(name);
    try {
      const { Parameter } = await callBackend(
        this.backend,
        () => this.client.send(new GetParameterCommand({ Name: name })),
        whenNotFound(() => absent),
      );
      return Parameter?.Version ?? 0;
    } catch (error) {
      if (error === absent) return 0;
      throw error;
    }
  }

  /** The expected version was not the latest: a retry of our own earlier write, or a real conflict. */
  private async resolveLostWrite(
    address: ConfigAddress,
    value: string,
    options: PutOptions,
    latest: number,
  ): Promise<ConfigVersion> {
    if (options.writeId && latest === options.expectedVersion + 1) {
      const newest = await this.latest(address);
      if (newest && newest.writeId === options.writeId && newest.value === value) {
        if (options.makeLive && !newest.live) await this.promote(address, newest.version);
        return this.getVersion(address, newest.version);
      }
    }
    throw new VersionConflictError(address.key, options.expectedVersion, latest);
  }

  private async namesUnder(path: string): Promise<string[]> {
    return callBackend(this.backend, async () => {
      const pages = paginateGetParametersByPath(
        { client: this.client, pageSize: 10 },
        { Path: path, Recursive: true },
      );
      const names: string[] = [];
      for await (const page of pages)
        names.push(...(page.Parameters ?? []).flatMap((p) => (p.Name ? [p.Name] : [])));
      return names;
    });
  }

  private toVersion(address: ConfigAddress, parameter: Parameter | ParameterHistory): ConfigVersion {
    return {
      key: address.key,
      service: address.service,
      version: parameter.Version ?? 0,
      value: parameter.Value ?? '',
      format: this.format,
      updatedAt: (parameter.LastModifiedDate ?? new Date(0)).toISOString(),
    };
  }
}

export function parameterName(address: ConfigAddress): string {
  return `${SSM_ROOT}/${address.tenantId}/${address.service ?? ''}/${address.key}`;
}

/** The inverse of parameterName; undefined for names outside the tree or of another shape. */
export function parseParameterName(name: string): Required<ConfigAddress> | undefined {
  const parts = name.split('/');
  if (parts.length !== 5 || parts[0] !== '' || `/${parts[1]}` !== SSM_ROOT) return undefined;
  const [, , tenantId, service, key] = parts;
  if (!tenantId || !service || !key) return undefined;
  return { tenantId, service, key };
}

function descriptionOf(options: PutOptions): string | undefined {
  if (!options.writeId) return undefined;
  return `${WRITE_ID_MARK}${options.writeId}${options.copyOf ? `${COPY_OF_MARK}${options.copyOf}` : ''}`;
}

function marksOf(entry: ParameterHistory): Pick<HistoryEntry, 'writeId' | 'copyOf'> {
  const description = entry.Description ?? '';
  if (!description.startsWith(WRITE_ID_MARK)) return {};
  const [writeId, copyOf] = description.slice(WRITE_ID_MARK.length).split(COPY_OF_MARK);
  return { writeId: writeId!, ...(copyOf && /^\d+$/.test(copyOf) ? { copyOf: Number(copyOf) } : {}) };
}

function notFound(address: ConfigAddress, version?: number): NotFoundError {
  const what = version === undefined ? `config "${address.key}"` : `version ${version} of "${address.key}"`;
  return new NotFoundError(`${what} not found for service "${address.service}"`, 'key');
}

function isNamed(error: unknown, name: string): boolean {
  return error instanceof Error && error.name === name;
}

function whenNotFound(make: () => Error): (error: unknown) => Error | undefined {
  return (error) => (error instanceof Error && NOT_FOUND_ERRORS.has(error.name) ? make() : undefined);
}
