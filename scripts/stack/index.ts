/** The local stack: its servers, how to start, stop and inspect them, and how to reach them. */
export { COMPONENTS, type Component } from './components';
export { localStackEnv, otlpEndpoint, prometheusUrl, temporalUiUrl, traceQueryUrl } from './env';
export { StackError } from './errors';
export {
  stackDown,
  stackReset,
  stackStatus,
  stackUp,
  type ComponentStatus,
  type Log,
  type StackUpResult,
} from './lifecycle';
export { dataDir, localDir, logsDir, pidsDir, repoRoot, stateDir, toolPath, toolsDir } from './paths';
export { PORTS, STACK_HOST, resolvePort, type PortSetting } from './ports';
export { ownerEnv } from './owner';
export { logFile, pidFile } from './processes';
export { portAnswers } from './probes';
export { writeTargets, type PrometheusJob, type TargetGroup } from './prometheusConfig';
