import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * What operators filter rollouts by in the Temporal UI and CLI (`TenantId = "acme"`). The stack script
 * registers them on the dev server; the AWS deployment registers them on the namespace.
 */
export const TENANT_ID = defineSearchAttributeKey('TenantId', SearchAttributeType.KEYWORD);
export const CONFIG_KEY = defineSearchAttributeKey('ConfigKey', SearchAttributeType.KEYWORD);
export const ROLLOUT_STATE = defineSearchAttributeKey('RolloutState', SearchAttributeType.KEYWORD);

export const ROLLOUT_SEARCH_ATTRIBUTES = [TENANT_ID, CONFIG_KEY, ROLLOUT_STATE] as const;
