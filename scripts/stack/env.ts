import path from 'node:path';
import { DEFAULT_CLOUD_MAP_NAMESPACE } from '../../common/cloudMap';
import { LOCAL_ISSUER } from '../../common/constants';
import { localDir } from './paths';
import { PORTS, STACK_HOST, resolvePort } from './ports';

/**
 * What application code needs to talk to the local stack. AWS SDK clients read their endpoints from
 * AWS_ENDPOINT_URL_<SERVICE>, so the same code talks to AWS when these are absent.
 */
export function localStackEnv(): Record<string, string> {
  const dynamodb = `http://${STACK_HOST}:${resolvePort(PORTS.dynamodb)}`;
  const moto = `http://${STACK_HOST}:${resolvePort(PORTS.moto)}`;
  const issuerPort = resolvePort(PORTS.issuer);
  return {
    AWS_REGION: 'us-east-1',
    // The AWS CLI v1 reads only this one.
    AWS_DEFAULT_REGION: 'us-east-1',
    // Written by provisioning: keeps the AWS CLI from fetching parameter values that look like URLs.
    AWS_CONFIG_FILE: path.join(localDir, 'aws', 'config'),
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_DYNAMODB: dynamodb,
    AWS_ENDPOINT_URL_SSM: moto,
    AWS_ENDPOINT_URL_SERVICEDISCOVERY: moto,
    AWS_ENDPOINT_URL_EVENTBRIDGE: moto,
    // Alarm gates: moto serves CloudWatch alarms (and, through durable_moto.py, their history).
    AWS_ENDPOINT_URL_CLOUDWATCH: moto,
    // Only read with PAYLOAD_KMS_KEY_ID; the stack itself encrypts with PAYLOAD_KEY_FILE.
    AWS_ENDPOINT_URL_KMS: moto,
    TEMPORAL_ADDRESS: `${STACK_HOST}:${resolvePort(PORTS.temporal)}`,
    TEMPORAL_NAMESPACE: 'default',
    ISSUER_PORT: String(issuerPort),
    LOCAL_ISSUER_JWKS_URL: `http://${STACK_HOST}:${issuerPort}/.well-known/jwks.json`,
    CLOUD_MAP_NAMESPACE: DEFAULT_CLOUD_MAP_NAMESPACE,
    PUSH_SIGNING_KEY_FILE: path.join(localDir, 'push', 'private.pem'),
    PUSH_VERIFY_KEY_FILE: path.join(localDir, 'push', 'public.pem'),
    INSTANCE_GRANT_SIGNING_KEY_FILE: path.join(localDir, 'instance-grants', 'private.pem'),
    INSTANCE_GRANT_VERIFY_KEY_FILE: path.join(localDir, 'instance-grants', 'public.pem'),
    // Every instance of the stack listens on loopback; pushes go nowhere else.
    INSTANCE_ALLOWED_CIDRS: '127.0.0.0/8',
    PAYLOAD_KEY_FILE: path.join(localDir, 'payload', 'payload.key'),
    COGNITO_USER_POOL_ID: LOCAL_ISSUER.userPoolId,
    COGNITO_CLIENT_ID: LOCAL_ISSUER.clientId,
  };
}

/**
 * Jaeger's query API (/api/traces), where the stack's traces are read (scripts/show-trace.ts prints one):
 * Jaeger built from its Go module has no web UI's assets, and answers its page with a placeholder.
 */
export function traceQueryUrl(): string {
  return `http://${STACK_HOST}:${resolvePort(PORTS.jaegerUi)}`;
}

/** Where the stack's processes send their spans (OTLP over HTTP): OTEL_EXPORTER_OTLP_ENDPOINT. */
export function otlpEndpoint(): string {
  return `http://${STACK_HOST}:${resolvePort(PORTS.otlpHttp)}`;
}

export function temporalUiUrl(): string {
  return `http://${STACK_HOST}:${resolvePort(PORTS.temporalUi)}`;
}

/** The stack's Prometheus; Debian's build serves the classic pages: `<url>/classic/targets`, `/classic/alerts`. */
export function prometheusUrl(): string {
  return `http://${STACK_HOST}:${resolvePort(PORTS.prometheus)}`;
}
