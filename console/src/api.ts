import type { Problem } from '../../common/api/problems';
import { currentSession } from './session';

/** An answer of the API that is not a success, with the problem's own words. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
  ) {
    super(detail);
  }
}

/** Told when the token is gone or refused, so the page goes back to sign-in. */
let onSignedOut: (reason: string) => void = () => undefined;

export function whenSignedOut(handler: (reason: string) => void): void {
  onSignedOut = handler;
}

export function signedOut(reason: string): never {
  onSignedOut(reason);
  throw new ApiProblem(401, 'Unauthenticated', reason);
}

/** The bearer header for the current session; an expired one signs out instead. */
export function authorization(): { authorization: string } {
  const session = currentSession();
  if (!session) signedOut('your session has expired: sign in again');
  return { authorization: `Bearer ${session.token}` };
}

/** One call to the same /v1 REST API cfgctl uses, with the same token: the server decides what it allows. */
export async function api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: {
      ...authorization(),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.ok) return (await response.json()) as T;
  throw await problemOf(response);
}

export async function problemOf(response: Response): Promise<ApiProblem> {
  const problem = (await response.json().catch(() => undefined)) as Partial<Problem> | undefined;
  const detail = problem?.detail ?? `the server answered HTTP ${response.status}`;
  if (response.status === 401) signedOut(`signed out: ${detail}`);
  return new ApiProblem(response.status, problem?.title ?? String(response.status), detail);
}

export const path = (strings: TemplateStringsArray, ...parts: string[]) =>
  strings.reduce(
    (url, text, i) => url + text + (i < parts.length ? encodeURIComponent(parts[i] ?? '') : ''),
    '',
  );
