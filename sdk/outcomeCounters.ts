import type { ConfigAddress } from '../common/configAddress';
import { entryKey } from './heldConfig';

/** What the application saw of one call that used a key's value. */
export type Outcome = 'ok' | 'error';

/** The calls recorded for one tenant's key while the instance held `version`. */
export interface OutcomeCounts {
  readonly version: number;
  readonly requests: number;
  readonly errors: number;
}

interface Counter {
  version: number;
  requests: number;
  errors: number;
}

/**
 * Per tenant, service and key: how many calls the application recorded, and how many failed, while it
 * held the version it holds now. Two numbers per key, whatever the call rate: a flood of records costs
 * nothing more, and only keys the instance holds are counted (the caller checks), so the memory is
 * bounded by the config it holds. A key's counter starts again from zero when its held version changes,
 * so a candidate's counts are the candidate's alone. Counters saturate rather than lose precision.
 */
export class OutcomeCounters {
  private readonly counters = new Map<string, Counter>();

  record(address: ConfigAddress, version: number, outcome: Outcome): void {
    const id = entryKey(address);
    let counter = this.counters.get(id);
    if (!counter || counter.version !== version) {
      counter = { version, requests: 0, errors: 0 };
      this.counters.set(id, counter);
    }
    counter.requests = saturating(counter.requests);
    if (outcome === 'error') counter.errors = saturating(counter.errors);
  }

  /** The counts for `heldVersion`: zero where nothing was recorded since the instance began holding it. */
  countsFor(address: ConfigAddress, heldVersion: number): OutcomeCounts {
    const counter = this.counters.get(entryKey(address));
    return counter && counter.version === heldVersion
      ? { version: heldVersion, requests: counter.requests, errors: counter.errors }
      : { version: heldVersion, requests: 0, errors: 0 };
  }

  /** How many keys have a counter (tests of the memory bound). */
  get size(): number {
    return this.counters.size;
  }
}

function saturating(count: number): number {
  return count < Number.MAX_SAFE_INTEGER ? count + 1 : count;
}
