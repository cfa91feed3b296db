import type { RepairKind } from '../../common/reconcile';
import type { RefreshPayload } from '../refresh/refreshPusher';
import type { ConfigAddress } from '../../common/configAddress';

/** What the store says of one key: its live version, and whether any version of it is kept at all. */
export interface KeyState {
  readonly address: ConfigAddress;
  /** Undefined where no version is live: the key is gone, or only a never-promoted candidate is kept. */
  readonly live?: { readonly version: number; readonly value: string; readonly format: string };
  /** Whether the store keeps any version of the key (a never-live candidate counts). */
  readonly stored: boolean;
}

export interface RepairPlan {
  readonly kind: RepairKind;
  readonly payload: Omit<RefreshPayload, 'rolloutId'>;
}

/**
 * The push that brings an instance holding `held` of a key to the store's state, or undefined when it
 * is there already. An instance holding nothing (0) is left alone: it has not read the key, or forgot it.
 * Live never moves backwards, so a held version above live never went live: a lost rollout's candidate,
 * replaced by live with `revert_from` (instances apply an older version only that way, and only while
 * they hold exactly that candidate). A key with nothing live is forgotten: with `revert_from` where the
 * store still keeps its candidate (its versions go on from there, so the high-water mark stays), as a
 * plain removal where the key is gone (its versions restart at 1).
 */
export function repairFor(state: KeyState, held: number): RepairPlan | undefined {
  const { tenantId, key, service } = state.address;
  const address = { tenantId, key, ...(service ? { service } : {}) };
  const { live } = state;
  if (held === 0 || held === live?.version) return undefined;
  if (live) {
    const payload = { ...address, version: live.version, value: live.value, format: live.format };
    return held < live.version
      ? { kind: 'missed-push', payload }
      : { kind: 'never-live-candidate', payload: { ...payload, revertFrom: held } };
  }
  return {
    kind: 'removed-key',
    payload: {
      ...address,
      version: 0,
      removed: true,
      format: 'text',
      ...(state.stored ? { revertFrom: held } : {}),
    },
  };
}
