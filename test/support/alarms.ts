import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CloudWatchClient,
  PutMetricAlarmCommand,
  SetAlarmStateCommand,
  type StateValue,
} from '@aws-sdk/client-cloudwatch';
import type { WorkflowHandle } from '@temporalio/client';
import { type AlarmSelector, tenantAlarmName } from '../../common/alarms';
import type { RolloutState } from '../../common/rollout';
import { startRollout } from '../../rolloutClient';
import { progressQuery } from '../../workflows/definitions';
import type { FaultRig } from './faultRig';
import { type StoreFaultKey, storePlan } from './storeFaultKeys';

/**
 * Real CloudWatch alarms on the local stack's moto, for the alarm gate's tests: created OK, then driven
 * with SetAlarmState as CloudWatch's own evaluation would.
 */
export function tenantAlarms(cloudWatch: CloudWatchClient) {
  return {
    /** Creates the tenant's alarm `name` (under config-rollouts/<tenant>/), in OK; answers its full name. */
    async create(tenantId: string, name: string): Promise<string> {
      const alarmName = tenantAlarmName(tenantId, name);
      await cloudWatch.send(
        new PutMetricAlarmCommand({
          AlarmName: alarmName,
          Namespace: 'Orders',
          MetricName: '5xxRate',
          Statistic: 'Average',
          Period: 60,
          EvaluationPeriods: 1,
          Threshold: 0.05,
          ComparisonOperator: 'GreaterThanThreshold',
        }),
      );
      await this.set(alarmName, 'OK', 'Threshold Crossed: 5xx rate 0.1% is under 5%');
      return alarmName;
    },
    set: (alarmName: string, state: StateValue, reason: string) =>
      cloudWatch.send(
        new SetAlarmStateCommand({ AlarmName: alarmName, StateValue: state, StateReason: reason }),
      ),
  };
}

/** The tenant's alarm `name` created OK, then a rollout of `key` on the rig gated by `selector`. */
export async function startGated(
  rig: FaultRig,
  key: StoreFaultKey,
  name: string,
  selector: AlarmSelector,
  bakeSeconds: number,
) {
  const alarm = await tenantAlarms(rig.clients.cloudWatch).create(key.address.tenantId, name);
  const plan = storePlan({ bakeSeconds, alarms: [selector] });
  const handle = await startRollout(rig.temporal, key.request({ plan }), rig.taskQueue);
  return { alarm, handle };
}

/** Polls the progress query until the rollout is in `state`, failing if it ends first. */
export async function reachState(handle: Pick<WorkflowHandle, 'query'>, state: RolloutState): Promise<void> {
  for (let i = 0; i < 600; i += 1) {
    const progress = await handle.query(progressQuery);
    if (progress.state === state) return;
    if (['SUCCEEDED', 'ROLLED_BACK', 'FAILED'].includes(progress.state))
      throw new Error(`the rollout ended ${progress.state} before ${state}: ${progress.outcome ?? ''}`);
    await sleep(100);
  }
  throw new Error(`the rollout never reached ${state}`);
}
