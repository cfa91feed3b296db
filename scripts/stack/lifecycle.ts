import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { COMPONENTS, componentsNamed, type Component } from './components';
import { localStackEnv } from './env';
import { StackError } from './errors';
import { withStackLock } from './lock';
import { listenerOf } from './owner';
import { dataDir, repoRoot, stateDir } from './paths';
import { provisionStack } from '../provision';
import { PORTS, resolvePort } from './ports';
import { portAnswers } from './probes';
import {
  exitOf,
  lastLogLines,
  logFile,
  removePidFile,
  runningPid,
  spawnDetached,
  stopProcessGroup,
  type ExitInfo,
  type LaunchSpec,
} from './processes';
import { errorMessage } from '../../common/errors';

export type Log = (line: string) => void;

export interface StackUpResult {
  /** Components this call started; the ones a later `stackDown` should stop. */
  started: string[];
  /** Components this stack started earlier, already answering, and reused. */
  alreadyRunning: string[];
  /** Components whose source is not in the tree yet. */
  skipped: string[];
}

export interface ComponentStatus {
  name: string;
  port: number;
  /** `foreign`: the port answers, but not from a process this stack started. */
  state: 'running' | 'stopped' | 'foreign';
  pid?: number;
  /** Who holds the port when it is foreign. */
  holder?: string;
  /** Where it keeps its data across restarts, if it keeps any. */
  stateFile?: string;
}

type UpOutcome = { kind: 'started' | 'alreadyRunning' | 'skipped'; detail: string };

const READY_POLL_MS = 500;

/**
 * Starts every component that is not answering yet, waits until all answer, then provisions them.
 * All or nothing: when anything fails, the components this call started are stopped again and the
 * error names each failure and what to do about it. `only` limits it to the named components.
 */
export function stackUp(
  options: { tiers?: readonly Component['tier'][]; only?: readonly string[] } = {},
  log: Log = console.log,
): Promise<StackUpResult> {
  const tiers = options.tiers ?? ['infrastructure', 'application'];
  const components = options.only === undefined ? [...COMPONENTS] : componentsNamed(options.only);
  return withStackLock(() => upAll(components, tiers, log));
}

/** Stops the named components (default: all) that this checkout started; others are left alone. */
export function stackDown(names?: readonly string[], log: Log = console.log): Promise<{ stopped: string[] }> {
  return withStackLock(() => stopComponents(componentsNamed(names), log));
}

/**
 * The one way to start clean: stops every component of this stack and deletes what they kept
 * (`dataDir()`). Keys, tools and logs stay.
 */
export function stackReset(log: Log = console.log): Promise<{ stopped: string[] }> {
  return withStackLock(async () => {
    const result = await stopComponents([...COMPONENTS], log);
    rmSync(dataDir(), { recursive: true, force: true });
    log(`deleted ${displayPath(dataDir())}`);
    return result;
  });
}

export async function stackStatus(): Promise<ComponentStatus[]> {
  return Promise.all(
    COMPONENTS.map(async (component): Promise<ComponentStatus> => {
      const port = resolvePort(component.port);
      const stateFile = component.stateFile && displayPath(component.stateFile());
      const common = { name: component.name, port, ...(stateFile ? { stateFile } : {}) };
      const pid = runningPid(component.name, component.launch().command);
      if (pid !== undefined) return { ...common, state: 'running', pid };
      if (!(await portAnswers(port))) return { ...common, state: 'stopped' };
      return { ...common, state: 'foreign', holder: describeHolder(port) };
    }),
  );
}

async function upAll(
  components: Component[],
  tiers: readonly Component['tier'][],
  log: Log,
): Promise<StackUpResult> {
  const result: StackUpResult = { started: [], alreadyRunning: [], skipped: [] };
  // Applications need provisioned infrastructure, so each tier starts once the one before answers.
  const bringUpTier = async (tier: Component['tier']) => {
    const failures: string[] = [];
    await Promise.all(
      components
        .filter((component) => component.tier === tier)
        .map(async (component) => {
          try {
            const outcome = await bringUp(component);
            result[outcome.kind].push(component.name);
            log(`${component.name}: ${outcome.detail}`);
          } catch (error) {
            failures.push(`${component.name}: ${errorMessage(error)}`);
          }
        }),
    );
    if (failures.length > 0) throw new StackError(`the local stack did not start:\n${failures.join('\n')}`);
  };
  try {
    await bringUpTier('infrastructure');
    await provision(log);
    if (tiers.includes('application')) await bringUpTier('application');
    if (tiers.includes('example')) await bringUpTier('example');
  } catch (error) {
    await stopStarted(result.started, log);
    throw error;
  }
  return result;
}

/** Stops dependants first (examples, then applications, then infrastructure), each tier at once. */
async function stopComponents(components: Component[], log: Log): Promise<{ stopped: string[] }> {
  const stopped: string[] = [];
  for (const tier of ['example', 'application', 'infrastructure'] as const) {
    await stopAll(
      components.filter((component) => component.tier === tier),
      log,
      stopped,
    );
  }
  return { stopped };
}

async function stopAll(components: Component[], log: Log, stopped: string[]): Promise<void> {
  await Promise.all(
    components.map(async (component) => {
      const pid = runningPid(component.name, component.launch().command);
      if (pid !== undefined) {
        await stopProcessGroup(pid);
        stopped.push(component.name);
      }
      removePidFile(component.name);
      log(`${component.name}: ${pid === undefined ? 'no process of ours to stop' : `stopped (pid ${pid})`}`);
    }),
  );
}

async function bringUp(component: Component): Promise<UpOutcome> {
  if (component.sourceFile !== undefined && !existsSync(path.join(repoRoot, component.sourceFile))) {
    return { kind: 'skipped', detail: `skipped: ${component.sourceFile} does not exist yet` };
  }
  const port = resolvePort(component.port);
  const spec = component.launch();
  const ourPid = runningPid(component.name, spec.command);
  if (ourPid === undefined) removePidFile(component.name);

  if (await portAnswers(port)) {
    // Another stack's server holds other data and trusts other keys: reusing it fails later, obscurely.
    if (ourPid === undefined) throw notOurs(component, port);
    if (await component.answers(port)) {
      return { kind: 'alreadyRunning', detail: `already running on port ${port} (pid ${ourPid})` };
    }
  }
  if (ourPid !== undefined) {
    // Ours but not answering: still starting (an `up` interrupted midway) or stuck; give it the usual time.
    const ended = () =>
      runningPid(component.name, spec.command) === undefined ? 'is no longer running' : undefined;
    await waitUntilAnswers(component, port, ended);
    return { kind: 'alreadyRunning', detail: `already running on port ${port} (pid ${ourPid})` };
  }

  return startComponent(component, port, spec);
}

/** Starts a component whose port is free and waits until it answers; stops it again if it never does. */
async function startComponent(component: Component, port: number, spec: LaunchSpec): Promise<UpOutcome> {
  for (const other of component.otherPorts ?? []) {
    const otherPort = resolvePort(other);
    if (await portAnswers(otherPort)) throw portInUse(other.envVar, otherPort);
  }
  if (!existsSync(spec.command)) {
    throw new StackError(
      `not installed (${path.relative(repoRoot, spec.command)} is missing): run \`npm run setup\``,
    );
  }

  const stateFile = component.stateFile?.();
  if (stateFile !== undefined) mkdirSync(path.dirname(stateFile), { recursive: true });
  const startedAt = Date.now();
  const child = spawnDetached(component.name, spec);
  let exited: ExitInfo | undefined;
  void exitOf(child).then((info) => (exited = info));
  try {
    await waitUntilAnswers(component, port, () => exited && describeExit(exited));
  } catch (error) {
    if (exited === undefined && child.pid !== undefined) await stopProcessGroup(child.pid);
    removePidFile(component.name);
    throw error;
  }
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  return { kind: 'started', detail: `started on port ${port} (pid ${child.pid}) in ${seconds} s` };
}

/**
 * Polls until the component answers. Fails as soon as `ended` says how its process ended, and at
 * the component's timeout.
 */
async function waitUntilAnswers(
  component: Component,
  port: number,
  ended: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + component.readyTimeoutMs;
  for (;;) {
    if (await component.answers(port)) return;
    const how = ended();
    if (how !== undefined) {
      throw new StackError(
        `crashed during start: it ${how}; last lines of ${logPath(component.name)}:\n` +
          indent(lastLogLines(component.name)),
      );
    }
    if (Date.now() > deadline) {
      throw new StackError(
        `did not answer on port ${port} within ${component.readyTimeoutMs / 1000} s; ` +
          `last lines of ${logPath(component.name)}:\n${indent(lastLogLines(component.name))}`,
      );
    }
    await sleep(READY_POLL_MS);
  }
}

/** Creates what the platform expects on the stack (the table, the issuer's keys). */
async function provision(log: Log): Promise<void> {
  // The AWS SDK's default credential chain reads process.env itself.
  Object.assign(process.env, localStackEnv());
  try {
    for (const line of await provisionStack()) log(`provision: ${line}`);
  } catch (error) {
    throw new StackError(`provisioning failed (scripts/provision.ts): ${errorMessage(error)}`);
  }
}

async function stopStarted(names: string[], log: Log): Promise<void> {
  if (names.length === 0) return;
  log(`stopping what this attempt started: ${names.join(', ')}`);
  await stopComponents(componentsNamed(names), () => {});
}

/** Refuses a port held by anything this stack did not start, naming the holder and the way around it. */
function notOurs(component: Component, port: number): StackError {
  const envVars = [component.port, ...(component.otherPorts ?? [])].map((setting) => setting.envVar);
  const allEnvVars = Object.values(PORTS).map((setting) => setting.envVar);
  return new StackError(
    `port ${port} (${envVars.join(', ')}) is held by ${describeHolder(port)}, not by this stack ` +
      `(${displayPath(stateDir())} of ${repoRoot}); it is not reused: its data and keys are not this ` +
      `checkout's. Stop it where it was started, or run this checkout's stack on other ports: ` +
      `set ${allEnvVars.join(', ')} to free ports (docs/operations.md, "The local stack").`,
  );
}

function describeHolder(port: number): string {
  const listener = listenerOf(port);
  if (listener === undefined) return 'a process this user cannot inspect';
  if (listener.owner === undefined) {
    return `pid ${listener.pid} (${listener.command}), which no checkout's stack started`;
  }
  const { checkout, stateDir: theirs } = listener.owner;
  if (checkout === repoRoot && theirs === stateDir()) {
    return `pid ${listener.pid}, started by this stack but missing from its pid files (kill -- -${listener.pid})`;
  }
  const where = theirs === path.join(checkout, '.local') ? '' : ` with state in ${theirs}`;
  return `pid ${listener.pid}, started by the stack of the checkout ${checkout}${where}`;
}

function displayPath(file: string): string {
  const relative = path.relative(repoRoot, file);
  return relative.startsWith('..') ? file : relative;
}

function portInUse(envVar: string, port: number): StackError {
  return new StackError(
    `port ${port} is in use by another process: stop it, or set ${envVar} to a free port`,
  );
}

function describeExit(exit: ExitInfo): string {
  return exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

function logPath(name: string): string {
  return displayPath(logFile(name));
}

function indent(text: string): string {
  return text.replace(/^/gm, '    ');
}
