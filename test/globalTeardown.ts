import { stackDown } from '../scripts/stack/index';
import { componentsStartedBySetup } from './globalSetup';

/** Stops what the global setup started, unless STACK_KEEP=1 asks to keep it for the next run. */
export default async function globalTeardown(): Promise<void> {
  const started = componentsStartedBySetup();
  if (started.length === 0) return;
  if (process.env.STACK_KEEP === '1') {
    console.log(`STACK_KEEP=1: leaving ${started.join(', ')} running (npm run stack -- down stops them)`);
    return;
  }
  await stackDown(started);
}
