import { execFile } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { toolPath } from './paths';
import { STACK_HOST } from './ports';

/** Whether the component on this port is up and is the service we expect there. */
export type Probe = (port: number) => Promise<boolean>;

const CONNECT_TIMEOUT_MS = 1_000;
const HTTP_TIMEOUT_MS = 2_000;
const TEMPORAL_CLI_TIMEOUT_MS = 10_000;

/** Anything at all accepts connections on the port. */
export function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: STACK_HOST, port, timeout: CONNECT_TIMEOUT_MS });
    const finish = (answered: boolean) => {
      socket.destroy();
      resolve(answered);
    };
    socket.once('connect', () => finish(true));
    socket.once('timeout', () => finish(false));
    socket.once('error', () => finish(false));
  });
}

/** A GET of this path answers 2xx: the right service, not merely an open port. */
export function httpGetSucceeds(urlPath: string): Probe {
  return (port) =>
    new Promise((resolve) => {
      const request = http.get(
        { host: STACK_HOST, port, path: urlPath, timeout: HTTP_TIMEOUT_MS },
        (response) => {
          response.resume();
          const status = response.statusCode ?? 0;
          resolve(status >= 200 && status < 300);
        },
      );
      request.once('timeout', () => request.destroy());
      request.once('error', () => resolve(false));
    });
}

/**
 * The frontend accepts connections before the default namespace exists; workers and clients fail
 * until it does, so Temporal counts as ready only once the namespace can be described.
 */
export const temporalNamespaceReady: Probe = async (port) => {
  if (!(await portAnswers(port))) return false;
  const args = ['operator', 'namespace', 'describe', '--namespace', 'default'];
  // A developer's TEMPORAL_* variables or CLI profile (TLS, API key for Temporal Cloud) must not
  // redirect or break this check against the local server.
  args.push('--address', `${STACK_HOST}:${port}`, '--disable-config-env', '--disable-config-file');
  return new Promise((resolve) => {
    execFile(toolPath('temporal'), args, { timeout: TEMPORAL_CLI_TIMEOUT_MS }, (error) => resolve(!error));
  });
};
