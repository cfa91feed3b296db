import { setTimeout as sleep } from 'node:timers/promises';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { type ICreateToxicBody, type Proxy, Toxiproxy } from 'toxiproxy-node-client';
import { closedPort } from './ports';

/**
 * A real Toxiproxy server (installed by scripts/setup.sh into .tools/bin) for one test file: its own
 * process on free loopback ports, so a test can slow down, reset or cut the sockets between the
 * worker and a store or an instance without touching the shared stack. `stop()` kills it.
 */
const SERVER = path.join(__dirname, '..', '..', '.tools', 'bin', 'toxiproxy-server');
const READY_WITHIN_MS = 15_000;

export interface FaultProxy {
  /** A proxy on a free loopback port (or `listen`, host:port) forwarding to `upstream` (host:port). */
  proxy(name: string, upstream: string, listen?: string): Promise<ProxiedLink>;
  stop(): Promise<void>;
}

export interface ProxiedLink {
  readonly proxy: Proxy;
  /** Where clients connect instead of the upstream, `host:port`. */
  readonly listen: string;
  readonly port: number;
  /** Adds a toxic; the returned function removes it. */
  add<T>(toxic: ICreateToxicBody<T>): Promise<() => Promise<void>>;
  /** Disabled, the proxy refuses new connections and closes open ones: the upstream looks down. */
  setEnabled(enabled: boolean): Promise<void>;
}

export async function startFaultProxy(): Promise<FaultProxy> {
  if (!existsSync(SERVER)) throw new Error(`${SERVER} is missing: run \`npm run setup\``);
  const apiPort = await closedPort();
  const child: ChildProcess = spawn(SERVER, ['-host', '127.0.0.1', '-port', String(apiPort)], {
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const client = new Toxiproxy(`http://127.0.0.1:${apiPort}`);
  await waitUntilAnswering(client, child);

  return {
    async proxy(name, upstream, listen = '127.0.0.1:0') {
      const created = await client.createProxy({ name, listen, upstream });
      let current = created;
      const port = Number(created.listen.split(':').pop());
      return {
        proxy: created,
        listen: created.listen,
        port,
        async add(toxic) {
          const added = await current.addToxic(toxic);
          return () => added.remove();
        },
        async setEnabled(enabled) {
          current = await current.update({ enabled, listen: current.listen, upstream });
        },
      };
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function waitUntilAnswering(client: Toxiproxy, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_WITHIN_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`toxiproxy-server exited with ${child.exitCode}`);
    try {
      await client.getVersion();
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`toxiproxy-server did not answer within ${READY_WITHIN_MS} ms`, { cause: error });
      }
      await sleep(100);
    }
  }
}
