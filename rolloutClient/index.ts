/**
 * Rollouts from outside the worker: the Temporal client (payloads encrypted), the one way to start a
 * rollout and to steer it, and its history read in pages. The API (server/), the Lambda (lambdas/) and
 * the benchmarks share it; the updates and queries themselves are declared in workflows/definitions.ts.
 */
export { historyInPages } from './historyPages';
export { startRollout } from './startRollout';
export { steerRollout } from './steerRollout';
export { createTemporalClient, temporalConnectionOptions } from './temporalConnection';
export { payloadCodecFor } from './payloadEncryption/dataConverter';
