import { readdirSync, readlinkSync } from 'node:fs';
import { processIds, readProcFile, readTextFile } from './procfs';

/**
 * Which stack started a process: the checkout and state directory `spawnDetached` puts in the
 * environment of every component (and so of its children, such as the node process tsx starts).
 */
export interface StackOwner {
  checkout: string;
  stateDir: string;
}

/** Environment variables naming the stack that started a component. */
export const OWNER_ENV = { checkout: 'STACK_CHECKOUT', stateDir: 'STACK_STATE_DIR' } as const;

export function ownerEnv(owner: StackOwner): Record<string, string> {
  return { [OWNER_ENV.checkout]: owner.checkout, [OWNER_ENV.stateDir]: owner.stateDir };
}

/** What listens on a loopback port: the pid and, if a stack started it, which one. Linux only: reads /proc. */
export function listenerOf(port: number): { pid: number; command: string; owner?: StackOwner } | undefined {
  const inodes = listeningSocketInodes(port);
  if (inodes.size === 0) return undefined;
  const pid = processIds().find((candidate) => holdsSocket(candidate, inodes));
  if (pid === undefined) return undefined;
  const command = readProcFile(pid, 'cmdline')?.split('\0').join(' ').trim() ?? '';
  const environment = new Map(
    (readProcFile(pid, 'environ') ?? '')
      .split('\0')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const),
  );
  const checkout = environment.get(OWNER_ENV.checkout);
  const stateDir = environment.get(OWNER_ENV.stateDir);
  return { pid, command, ...(checkout && stateDir ? { owner: { checkout, stateDir } } : {}) };
}

/** Inodes of the listening sockets (state 0A) bound to this port, on any local address. */
function listeningSocketInodes(port: number): Set<string> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['tcp', 'tcp6']) {
    for (const line of (readTextFile(`/proc/net/${table}`) ?? '').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [, localAddress, , state] = fields;
      if (state === '0A' && localAddress?.endsWith(`:${hexPort}`) && fields[9]) inodes.add(fields[9]);
    }
  }
  return inodes;
}

function holdsSocket(pid: number, inodes: Set<string>): boolean {
  let descriptors: string[];
  try {
    descriptors = readdirSync(`/proc/${pid}/fd`);
  } catch {
    // Another user's process: its descriptors are not ours to read.
    return false;
  }
  return descriptors.some((fd) => {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      return target.startsWith('socket:[') && inodes.has(target.slice(8, -1));
    } catch {
      return false;
    }
  });
}
