import type { RolloutState } from '../common/rollout';

/** Exit codes a script can act on; cli/README.md lists them. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  unauthenticated: 3,
  forbidden: 4,
  notFound: 5,
  conflict: 6,
  unavailable: 7,
  /** A watched rollout ended rolled back: the new value never went live. */
  rolledBack: 8,
  /** A watched rollout ended FAILED: it could not finish nor roll back cleanly. */
  rolloutFailed: 9,
  /** Ctrl-C while watching (128 + SIGINT, as shells report it); the rollout itself goes on. */
  interrupted: 130,
} as const;

/** An API error's HTTP status as an exit code; status 0 means the API could not be reached. */
export function exitCodeForHttpStatus(status: number): number {
  if (status === 0 || status >= 500) return EXIT.unavailable;
  if (status === 401) return EXIT.unauthenticated;
  if (status === 403) return EXIT.forbidden;
  if (status === 404) return EXIT.notFound;
  if (status === 409) return EXIT.conflict;
  return EXIT.failure;
}

/** The exit code of a watch that saw the rollout end in `state`. */
export function exitCodeForFinalState(state: RolloutState): number {
  switch (state) {
    case 'SUCCEEDED':
      return EXIT.ok;
    case 'ROLLED_BACK':
      return EXIT.rolledBack;
    case 'FAILED':
      return EXIT.rolloutFailed;
    default:
      return EXIT.failure;
  }
}
