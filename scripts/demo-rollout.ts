import * as grpc from '@grpc/grpc-js';
import { Client, Connection } from '@temporalio/client';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { createAwsClients, destroyAwsClients } from '../activities/awsClients';
import { CloudMapDiscovery } from '../activities/discovery/cloudMapDiscovery';
import { instanceRef, type ServiceInstance } from '../common/cloudMap';
import { createLogger } from '../common/logger';
import { loadProto } from '../common/proto';
import { signPushToken } from '../common/pushToken';
import {
  type RolloutPlan,
  type RolloutProgress,
  type RolloutRequest,
  rolloutWorkflowId,
} from '../common/rollout';
import { loadAwsSettings, loadRolloutWorkerSettings, loadTemporalSettings } from '../common/settings';
import type { ProtoGrpcType } from '../gen/proto/refresh';
import type { HealthResponse__Output } from '../gen/proto/configsvc/v1/HealthResponse';
import { startRollout } from '../server/rolloutClient';
import { temporalConnectionOptions } from '../server/temporalConnection';
import { progressQuery } from '../workflows/definitions';
import { temporalUiUrl, toolPath } from './stack/index';

/**
 * The rollout half of the demo (scripts/demo.sh runs it after the stack and the six example instances
 * are up): a staged rollout of acme's feature flags that succeeds, then one of a broken value that the
 * canary's health gate catches and rolls back. Prints progress as it goes.
 */
const TENANT = 'acme';
const KEY = 'tenant_config_featureFlags';
const SERVICES = ['orders', 'billing'];
const PLAN: RolloutPlan = {
  strategy: { kind: 'explicit', waves: [1, '50%', '100%'] },
  bakeSeconds: 3,
  approval: 'none',
  maxFailures: 0,
};

const run = promisify(execFile);
const bold = (text: string) => `\x1b[1m${text}\x1b[0m`;

async function main(): Promise<void> {
  const temporalSettings = loadTemporalSettings();
  const temporal = new Client({
    connection: await Connection.connect(temporalConnectionOptions(temporalSettings)),
    namespace: temporalSettings.namespace,
  });
  const aws = createAwsClients(loadAwsSettings());
  const discovery = new CloudMapDiscovery(
    aws.serviceDiscovery,
    loadRolloutWorkerSettings().cloudMapNamespace,
    createLogger({ component: 'demo' }, 'error'),
  );
  try {
    const fleet = await waitForFleet(discovery);
    console.log(`${fleet.length} instances serve ${TENANT}: ${fleet.map(instanceRef).join(', ')}`);
    await showFleet(fleet);

    console.log(
      bold(`\n-- Rollout 1: a good change, canary -> 50% -> 100%, ${PLAN.bakeSeconds} s bake per wave`),
    );
    await rollOut(temporal, '{"newCheckout":true,"darkMode":true}', 'release-manager@acme');
    await showFleet(fleet);

    console.log(
      bold('\n-- Rollout 2: a broken value; the canary reports NOT_SERVING and the rollout rolls back'),
    );
    const rolledBack = await rollOut(
      temporal,
      '{"newCheckout":"yes","darkMode":true}',
      'release-manager@acme',
    );
    await showFleet(fleet);

    console.log(bold('\n-- What operators see in Temporal'));
    const temporalCli = toolPath('temporal');
    const query = `TenantId="${TENANT}" AND ConfigKey="${KEY}"`;
    console.log(`$ temporal workflow list --query '${query}'`);
    const listed = await run(temporalCli, [
      'workflow',
      'list',
      '--address',
      temporalSettings.address,
      '--query',
      query,
    ]);
    console.log(listed.stdout.trim());
    console.log(
      `\nThe rolled-back run's history: temporal workflow show --workflow-id '${rolloutWorkflowId({ tenantId: TENANT, key: KEY })}' --run-id ${rolledBack}`,
    );
    console.log(`\nHistories: ${temporalUiUrl()}/namespaces/${temporalSettings.namespace}/workflows`);
  } finally {
    destroyAwsClients(aws);
    await temporal.connection.close();
  }
}

/** The example instances register once loaded; wait until all that serve the tenant are discoverable. */
async function waitForFleet(discovery: CloudMapDiscovery): Promise<ServiceInstance[]> {
  for (let attempt = 0; attempt < 60; attempt += 1) {
    const instances = await discovery.instancesServing(TENANT, SERVICES);
    if (instances.length >= 4) return instances;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error('the example instances did not register in Cloud Map: see .local/logs/orders-*.log');
}

async function rollOut(temporal: Client, value: string, actor: string): Promise<string> {
  const request: RolloutRequest = {
    tenantId: TENANT,
    key: KEY,
    change: { kind: 'set', value },
    targetServices: SERVICES,
    plan: PLAN,
    actor,
  };
  const handle = await startRollout(temporal, request);
  console.log(`started ${handle.workflowId} (run ${handle.firstExecutionRunId}) by ${actor}: ${value}`);
  let last = '';
  const watch = setInterval(() => {
    void handle
      .query(progressQuery)
      .then((progress) => {
        const line = describeProgress(progress);
        if (line !== last) console.log(line);
        last = line;
      })
      .catch(() => undefined);
  }, 300);
  try {
    const result = await handle.result();
    clearInterval(watch);
    const progress = await handle.query(progressQuery);
    const line = describeProgress(progress);
    if (line !== last) console.log(line);
    console.log(
      result.state === 'SUCCEEDED'
        ? `=> SUCCEEDED: version ${result.candidateVersion} is live on ${result.updatedInstances} instances`
        : `=> ROLLED BACK: ${result.reason}; version ${result.candidateVersion} never went live (live stays ${result.liveVersion ?? 'absent'})`,
    );
    for (const failure of progress.failedInstances)
      console.log(`   ${failure.instanceId}: ${failure.reason}`);
    return handle.firstExecutionRunId;
  } finally {
    clearInterval(watch);
  }
}

function describeProgress(progress: RolloutProgress): string {
  const waves = progress.waves
    .map((wave) => {
      const size = wave.targetInstances - (progress.waves[wave.index - 1]?.targetInstances ?? 0);
      const bar =
        '█'.repeat(wave.updated) +
        '✗'.repeat(wave.failed) +
        '░'.repeat(Math.max(0, size - wave.updated - wave.failed));
      return `wave ${wave.index + 1} ${bar} ${wave.state}`;
    })
    .join(' | ');
  return `  [${progress.state.padEnd(17)}] ${waves}`;
}

/** Asks every instance, as the control plane does, what it holds and whether it is healthy. */
async function showFleet(fleet: ServiceInstance[]): Promise<void> {
  const { proto } = loadProto<ProtoGrpcType>('refresh.proto');
  const signingKey = readFileSync(loadRolloutWorkerSettings().pushSigningKeyFile, 'utf8');
  for (const instance of fleet) {
    const client = new proto.configsvc.v1.CacheRefresh(
      `${instance.address}:${instance.port}`,
      grpc.credentials.createInsecure(),
    );
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${signPushToken(signingKey, { service: instance.service })}`);
    const health = await new Promise<HealthResponse__Output | undefined>((resolve) =>
      client.Health(
        { keys: [{ tenant_id: TENANT, key: KEY }] },
        metadata,
        { deadline: Date.now() + 2000 },
        (error, response) => resolve(error ? undefined : response),
      ),
    );
    client.close();
    console.log(
      `   ${instanceRef(instance).padEnd(16)} ${instance.zone ?? ''}  ${health ? `${health.status.padEnd(11)} ${KEY} v${health.held_versions[0] ?? 0}` : 'unreachable'}`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
