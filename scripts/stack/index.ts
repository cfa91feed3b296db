/** The local stack: its servers, how to start, stop and inspect them, and how to reach them. */
export { COMPONENTS, type Component } from './components';
export { localStackEnv, temporalUiUrl } from './env';
export { StackError } from './errors';
export {
  stackDown,
  stackStatus,
  stackUp,
  type ComponentStatus,
  type Log,
  type StackUpResult,
} from './lifecycle';
export { localDir, logsDir, pidsDir, repoRoot, toolPath, toolsDir } from './paths';
export { PORTS, STACK_HOST, resolvePort, type PortSetting } from './ports';
export { logFile, pidFile } from './processes';
