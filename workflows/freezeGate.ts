import { condition, proxyLocalActivities } from '@temporalio/workflow';
import type { RolloutActivities } from '../activities/rolloutActivities';
import {
  activeFreeze,
  describeFreeze,
  type Freeze,
  type GatesChange,
  nextWindowOpening,
  type RolloutGates,
} from '../common/freezes';
import type { AuditEntry, RolloutHold } from '../common/rollout';

// One read of one item set, on the worker running the workflow task: a marker, no activity task. Retried
// through a DynamoDB blip; past the last attempt the rollout rolls back rather than pass an unread gate.
const gateReads = proxyLocalActivities<RolloutActivities>({
  startToCloseTimeout: '10 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 10,
  },
});

/**
 * While frozen, how often the gates are read again in case the unfreeze's signal was lost: soon at
 * first, then rarely (a week-long freeze costs a few hundred reads, not thousands of history events).
 */
const RECHECK_FIRST_MS = 60_000;
const RECHECK_MAX_MS = 15 * 60_000;

export interface FreezeGateHooks {
  readonly tenantId: string;
  /** Shows the hold (state PAUSED) or, with undefined, that it is over. */
  hold(hold: RolloutHold | undefined): void;
  audit(action: AuditEntry['action'], actor: string, reason: string): void;
  aborted(): boolean;
}

/**
 * The freeze and change-window gate at a wave boundary. The gates are read durably there (the first
 * wave's with the prepare, later ones by a local activity), so a lost signal never lets a wave through a
 * freeze; the `gatesChanged` signal only wakes a held rollout to read them again at once.
 */
export class FreezeGate {
  private signalled = false;
  private lastChange: GatesChange | undefined;

  constructor(private readonly hooks: FreezeGateHooks) {}

  notice(change: GatesChange): void {
    this.signalled = true;
    this.lastChange = change;
  }

  /**
   * Returns once no freeze and no closed window holds wave `index` (or the rollout is being aborted).
   * `prepared`: the gates read with the prepare, good for the first wave unless a signal came since.
   * `boundMs`: how long the hold may last (once instances hold the candidate); past it, or when the next
   * window opens later than that, answers the reason to roll back.
   */
  async pass(
    index: number,
    prepared: RolloutGates | undefined,
    boundMs?: number,
  ): Promise<string | undefined> {
    let gates = index === 0 && prepared && !this.signalled ? prepared : await this.read();
    const heldSince = Date.now();
    let held: RolloutHold | undefined;
    let frozen: Freeze | undefined;
    for (let recheckMs = RECHECK_FIRST_MS; !this.hooks.aborted(); ) {
      const freeze = activeFreeze(gates);
      const opening = freeze ? undefined : nextWindowOpening(gates.changeWindows, new Date());
      if (!freeze && !opening) break;
      const now = Date.now();
      const left = boundMs === undefined ? Infinity : heldSince + boundMs - now;
      if (freeze) {
        if (!sameFreeze(freeze, frozen))
          this.hooks.audit('freeze', freeze.frozenBy, describeFreeze(freeze, this.hooks.tenantId));
        frozen = freeze;
        if (left <= 0) {
          return `held by a freeze longer than the plan allows (${boundMs! / 1000} s): ${describeFreeze(freeze, this.hooks.tenantId)}`;
        }
        held = { gate: 'freeze', ...freeze };
      } else {
        if (opening!.getTime() - now > left) {
          return (
            `outside the tenant's change windows: the next opens at ${opening!.toISOString()}, later than the ` +
            `plan lets instances hold the candidate (${boundMs! / 1000} s)`
          );
        }
        held = { gate: 'change-window', until: opening!.toISOString() };
      }
      this.hooks.hold(held);
      const waitMs = freeze ? Math.min(recheckMs, left) : opening!.getTime() - now;
      this.signalled = false;
      await condition(() => this.signalled || this.hooks.aborted(), waitMs);
      if (this.hooks.aborted()) break;
      if (freeze && !this.signalled) recheckMs = Math.min(recheckMs * 2, RECHECK_MAX_MS);
      gates = await this.read();
      if (frozen && !activeFreeze(gates)) {
        const by = this.lastChange?.action === 'unfreeze' ? this.lastChange.actor : 'freeze-gate';
        this.hooks.audit('unfreeze', by, 'the freeze was lifted');
        frozen = undefined;
      }
    }
    if (held) this.hooks.hold(undefined);
    return undefined;
  }

  private read(): Promise<RolloutGates> {
    return gateReads.readRolloutGates({ tenantId: this.hooks.tenantId });
  }
}

function sameFreeze(a: Freeze, b: Freeze | undefined): boolean {
  return b !== undefined && a.scope === b.scope && a.frozenAt === b.frozenAt && a.frozenBy === b.frozenBy;
}
