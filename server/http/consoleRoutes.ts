import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type RequestHandler, Router } from 'express';
import { CONSOLE_FILES } from '../../common/consoleBuild';
import { BackendUnavailableError } from '../../common/errors';
import type { ConsoleSettings } from '../../common/settings';

/**
 * The web console: static files of the page, and /console/config.json, the few non-secret settings its
 * Cognito sign-in needs. The page calls the same /v1 API with the same bearer token as cfgctl, so this
 * router grants nothing: it serves files, with headers that keep the page from running anything but them.
 */
export function consoleRoutes(deps: { settings: ConsoleSettings; buildDir: string }): Router {
  const router = Router();
  router.use(securityHeaders(deps.settings));

  router.get('/config.json', (_request, response) => {
    response.set('cache-control', 'no-store').json({ hostedUi: deps.settings.hostedUi ?? null });
  });

  router.use((request, _response, next) => {
    const built = CONSOLE_FILES.every((file) => existsSync(path.join(deps.buildDir, file)));
    next(
      built
        ? undefined
        : new BackendUnavailableError('the console is not built on this server: run `npm run build:console`'),
    );
  });
  router.use(
    express.static(deps.buildDir, {
      index: 'index.html',
      redirect: true,
      fallthrough: true,
      // The page is small and changes with each deploy: always revalidated, never served stale.
      cacheControl: true,
      maxAge: 0,
    }),
  );
  return router;
}

/**
 * A strict policy: scripts and styles only from this origin (no inline code, so markup smuggled into a
 * value cannot run even if it reached the DOM), fetches only to this origin and the Cognito domain the
 * token exchange calls, never framed (clickjacking an approve button), no referrer leaking a rollout id.
 */
function securityHeaders(settings: ConsoleSettings): RequestHandler {
  const connect = ["'self'", ...(settings.hostedUi ? [new URL(settings.hostedUi.domain).origin] : [])];
  const policy = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `connect-src ${connect.join(' ')}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
  return (_request, response, next) => {
    response.set({
      'content-security-policy': policy,
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'cross-origin-opener-policy': 'same-origin',
    });
    next();
  };
}
