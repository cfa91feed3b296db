import type { Request } from 'express';
import type { Authenticator } from '../auth/authenticator';
import type { Action, Identity } from '../auth/identity';

/** Verifies the request's bearer token and that its roles allow the action. */
export type Authenticate = (request: Request, action: Action) => Promise<Identity>;

export function authenticateWith(authenticator: Authenticator): Authenticate {
  return (request, action) => authenticator.authenticate(request.headers.authorization, action);
}
