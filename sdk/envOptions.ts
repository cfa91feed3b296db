import { z } from 'zod';
import { pemFromFile } from '../common/keyFiles';
import { createCloudMapClient } from '../common/cloudMapClient';
import { type Env, loadAwsSettings, parseEnv } from '../common/settings';
import { SERVICE_NAME_PATTERN, TENANT_ID_PATTERN } from '../common/identifiers';
import type { ConfigClientOptions } from './configClient';

const tenantId = z.string().regex(TENANT_ID_PATTERN, 'not a valid tenant id');
const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

const envSchema = z
  .object({
    SERVICE_NAME: z.string().regex(SERVICE_NAME_PATTERN, 'not a valid service name'),
    CONFIG_SERVICE_ADDRESS: z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port'),
    TENANCY: z.enum(['silo', 'pool']).default('silo'),
    TENANT_ID: tenantId.optional(),
    /** A pooled instance serves every tenant; these are the ones it loads before it is ready. */
    PRELOAD_TENANTS: z
      .string()
      .transform((list) =>
        list
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean),
      )
      .pipe(z.array(tenantId))
      .optional(),
    REFRESH_HOST: z.string().min(1).default('127.0.0.1'),
    REFRESH_PORT: z.coerce.number().int().min(0).max(65535).default(0),
    /** TLS for CacheRefresh: the instance's certificate and key (both or neither), and for mTLS the CA of callers. */
    REFRESH_TLS_CERT_FILE: z.string().min(1).optional(),
    REFRESH_TLS_KEY_FILE: z.string().min(1).optional(),
    REFRESH_TLS_CLIENT_CA_FILE: z.string().min(1).optional(),
    PUSH_VERIFY_KEY_FILE: z.string().min(1),
    CLOUD_MAP_NAMESPACE: z.string().min(1).optional(),
    CLOUD_MAP_CREATE_SERVICE: flag.default('false'),
    INSTANCE_ID: z
      .string()
      .regex(/^[A-Za-z0-9_/:.@-]{1,64}$/, 'use 1-64 of A-Z a-z 0-9 _ / : . @ -')
      .optional(),
    ADVERTISE_ADDRESS: z.string().ip({ version: 'v4' }).optional(),
    ZONE: z.string().min(1).optional(),
    VERSION_CHECK_INTERVAL_MS: z.coerce.number().int().min(0).optional(),
    REGISTRATION_CHECK_INTERVAL_MS: z.coerce.number().int().min(0).optional(),
  })
  .superRefine((env, context) => {
    if (env.TENANCY === 'silo' && !env.TENANT_ID) {
      context.addIssue({ code: 'custom', path: ['TENANT_ID'], message: 'required unless TENANCY=pool' });
    }
    if (env.TENANCY === 'pool' && env.TENANT_ID) {
      context.addIssue({
        code: 'custom',
        path: ['TENANT_ID'],
        message: 'a pooled instance serves every tenant',
      });
    }
    if ((env.REFRESH_TLS_CERT_FILE === undefined) !== (env.REFRESH_TLS_KEY_FILE === undefined)) {
      context.addIssue({
        code: 'custom',
        path: ['REFRESH_TLS_CERT_FILE'],
        message: 'give REFRESH_TLS_CERT_FILE and REFRESH_TLS_KEY_FILE together',
      });
    }
    if (env.REFRESH_TLS_CLIENT_CA_FILE && !env.REFRESH_TLS_CERT_FILE) {
      context.addIssue({
        code: 'custom',
        path: ['REFRESH_TLS_CLIENT_CA_FILE'],
        message: 'mutual TLS needs REFRESH_TLS_CERT_FILE and REFRESH_TLS_KEY_FILE',
      });
    }
    if (env.TENANCY === 'silo' && env.PRELOAD_TENANTS) {
      context.addIssue({ code: 'custom', path: ['PRELOAD_TENANTS'], message: 'only for TENANCY=pool' });
    }
  });

/** What the environment decides; the app adds its token source, preloaded keys, logger and health hook. */
export type EnvConfigClientOptions = Omit<
  ConfigClientOptions,
  'tokenFor' | 'preload' | 'logger' | 'health'
> & {
  /** The tenants to preload: the silo's own, or PRELOAD_TENANTS of a pooled instance. */
  readonly preloadTenants: readonly string[];
};

/**
 * Reads the SDK's settings from the environment, validated at start-up: a missing or malformed variable
 * stops the service with a message naming it. The Cloud Map client takes its endpoint and region from
 * the usual AWS variables (AWS_REGION, AWS_ENDPOINT_URL_SERVICEDISCOVERY).
 */
export function configClientOptionsFromEnv(env: Env = process.env): EnvConfigClientOptions {
  const settings = parseEnv(envSchema, env);
  const tenancy = settings.TENANT_ID
    ? { kind: 'silo' as const, tenantId: settings.TENANT_ID }
    : { kind: 'pool' as const };
  return {
    service: settings.SERVICE_NAME,
    tenancy,
    preloadTenants: tenancy.kind === 'silo' ? [tenancy.tenantId] : (settings.PRELOAD_TENANTS ?? []),
    configServiceAddress: settings.CONFIG_SERVICE_ADDRESS,
    refreshServer: {
      host: settings.REFRESH_HOST,
      port: settings.REFRESH_PORT,
      ...(settings.REFRESH_TLS_CERT_FILE && settings.REFRESH_TLS_KEY_FILE
        ? {
            tls: {
              certPem: pemFromFile(settings.REFRESH_TLS_CERT_FILE, 'REFRESH_TLS_CERT_FILE'),
              keyPem: pemFromFile(settings.REFRESH_TLS_KEY_FILE, 'REFRESH_TLS_KEY_FILE'),
              ...(settings.REFRESH_TLS_CLIENT_CA_FILE
                ? {
                    clientCaPem: pemFromFile(
                      settings.REFRESH_TLS_CLIENT_CA_FILE,
                      'REFRESH_TLS_CLIENT_CA_FILE',
                    ),
                  }
                : {}),
            },
          }
        : {}),
    },
    pushVerifyKeyPem: pemFromFile(settings.PUSH_VERIFY_KEY_FILE, 'PUSH_VERIFY_KEY_FILE'),
    versionCheckIntervalMs: settings.VERSION_CHECK_INTERVAL_MS,
    registrationCheckIntervalMs: settings.REGISTRATION_CHECK_INTERVAL_MS,
    ...(settings.CLOUD_MAP_NAMESPACE
      ? {
          cloudMap: {
            client: createCloudMapClient(loadAwsSettings(env)),
            namespace: settings.CLOUD_MAP_NAMESPACE,
            instanceId: settings.INSTANCE_ID,
            zone: settings.ZONE,
            advertiseAddress: settings.ADVERTISE_ADDRESS,
            createServiceIfMissing: settings.CLOUD_MAP_CREATE_SERVICE,
          },
        }
      : {}),
  };
}
