import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `probe` every 100 ms until it answers something (a throw counts as not yet), for at most `seconds`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, seconds = 30): Promise<T> {
  for (let attempt = 0; attempt < seconds * 10; attempt += 1) {
    const found = await probe().catch(() => undefined);
    if (found !== undefined) return found;
    await sleep(100);
  }
  throw new Error(`${what} did not happen in ${seconds} s`);
}
