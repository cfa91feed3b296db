import type { RolloutState } from '../common/rollout';
import type { ApiClient } from './apiClient';
import { rolloutPath } from './apiPaths';
import type { Rollout } from '../common/api/rollouts';
import { EXIT, exitCodeForFinalState } from './exitCodes';
import type { ProgressDisplay } from './render/liveProgress';
import { EventStreamBrokenError, readServerSentEvents } from './sse';

/**
 * Follows a rollout over GET /v1/rollouts/{id}/events until it is over, showing each `progress` event,
 * and answers the exit code its end means. Ctrl-C stops watching, not the rollout.
 */
export async function watchRollout(
  client: ApiClient,
  rolloutId: string,
  display: ProgressDisplay,
): Promise<number> {
  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  process.once('SIGINT', onInterrupt);
  try {
    const last = await followEvents(client, rolloutId, display, stop.signal);
    const final = last && isFinal(last.state) ? last : await client.get<Rollout>(rolloutPath(rolloutId));
    if (final !== last) display.show(final);
    if (isFinal(final.state)) return exitCodeForFinalState(final.state);
    process.stderr.write(
      `error: the event stream closed while rollout ${rolloutId} was ${final.state}; ` +
        `follow it again with: cfgctl rollout status ${rolloutId} --watch\n`,
    );
    return EXIT.unavailable;
  } catch (error) {
    if (error instanceof EventStreamBrokenError && !stop.signal.aborted) {
      process.stderr.write(
        `error: the connection to the API broke while watching rollout ${rolloutId} (${error.message}); ` +
          `follow it again with: cfgctl rollout status ${rolloutId} --watch\n`,
      );
      return EXIT.unavailable;
    }
    if (!stop.signal.aborted) throw error;
    process.stderr.write(
      `stopped watching; rollout ${rolloutId} goes on (cfgctl rollout status ${rolloutId} --watch)\n`,
    );
    return EXIT.interrupted;
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
}

/** The last progress the stream sent before `end` or before it closed. */
async function followEvents(
  client: ApiClient,
  rolloutId: string,
  display: ProgressDisplay,
  signal: AbortSignal,
): Promise<Rollout | undefined> {
  const stream = await client.openEventStream(`${rolloutPath(rolloutId)}/events`, signal);
  let last: Rollout | undefined;
  for await (const event of readServerSentEvents(stream)) {
    if (event.type === 'progress') {
      last = parseRollout(event.data);
      display.show(last);
    } else if (event.type === 'end') {
      break;
    } else if (event.type === 'shutdown') {
      // The API is going away (a deploy, a restart); the rollout is not. Said like any broken stream.
      throw new EventStreamBrokenError(errorDetail(event.data));
    } else if (event.type === 'error') {
      // The server could not read the rollout any more; the read that follows says why, with its exit code.
      process.stderr.write(`warning: the event stream stopped: ${errorDetail(event.data)}\n`);
      break;
    }
  }
  return last;
}

function parseRollout(data: string): Rollout {
  try {
    const rollout = JSON.parse(data) as Rollout;
    if (typeof rollout.state === 'string' && Array.isArray(rollout.waves)) return rollout;
  } catch {
    // Reported below with the data that could not be read.
  }
  throw new Error(`the event stream sent a progress event that is not a rollout: ${data.slice(0, 200)}`);
}

function errorDetail(data: string): string {
  try {
    const { detail } = JSON.parse(data) as { detail?: unknown };
    if (typeof detail === 'string') return detail;
  } catch {
    // Not JSON: the data is the message.
  }
  return data;
}

function isFinal(state: RolloutState): boolean {
  return state === 'SUCCEEDED' || state === 'ROLLED_BACK' || state === 'FAILED';
}
