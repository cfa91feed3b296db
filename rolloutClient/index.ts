/**
 * Starting and steering rollouts from outside the worker: the Temporal client (payloads encrypted) and
 * the one way to start a rollout. The API (server/), the Lambda (lambdas/) and the benchmarks share it.
 */
export { historyInPages } from './historyPages';
export { startRollout } from './startRollout';
export { createTemporalClient, temporalConnectionOptions } from './temporalConnection';
export { payloadCodecFor } from './payloadEncryption/dataConverter';
