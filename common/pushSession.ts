import type { KeyObject } from 'node:crypto';
import { UnauthenticatedError } from './errors';
import {
  generateSealingKeys,
  isSealingPublicKey,
  type SealingKeyPair,
  type SessionKeys,
  sessionKeys,
} from './sealedValue';
import { assertCurrent, nowInSeconds, signToken, verifiedClaims } from './signedToken';

/**
 * A push session lets the rollout worker authenticate to instances and seal values for them with
 * symmetric keys, at the cost of one X25519 agreement per instance and worker process instead of a
 * signature, a verification and two agreements per call.
 *
 * The worker makes an X25519 key pair when it starts and certifies its public half with the control
 * plane's Ed25519 push signing key: the session certificate, valid an hour, sent with every call in
 * `x-push-session`. An instance verifies the certificate once, agrees keys with it once
 * (common/sealedValue.ts, `sessionKeys`), and from then on checks each call's grant by its HMAC
 * (common/pushGrant.ts) and opens its value with AES-GCM. The keys are the worker's and that one
 * instance's alone: a grant or a value captured by one instance is worth nothing at any other, and an
 * instance can forge grants only to itself.
 */
export const PUSH_SESSION_METADATA = 'x-push-session';
const PUSH_SESSION_ISSUER = 'config-rollout-push-sessions';
const SESSION_TTL_SECONDS = 3600;
/** A session is replaced this long before it expires, so no call starts with a certificate about to lapse. */
const RENEW_BEFORE_SECONDS = 600;
/** A certificate valid for longer was not made by this code: refused whatever its signature. */
const MAX_LIFETIME_SECONDS = 2 * 3600;
const CLOCK_SKEW_SECONDS = 5;
/** Agreements kept per session on the worker: one per instance it pushes to. */
const MAX_PEERS_PER_SESSION = 100_000;
/** Sessions kept per instance: one per worker process, and its successor. */
const MAX_SESSIONS_PER_INSTANCE = 16;
/** Certificates whose signature this process checked, shared by every instance it serves. */
const MAX_VERIFIED_CERTIFICATES = 256;

/** One worker session, as a push uses it: the certificate to send and the keys for each instance. */
export interface WorkerSessionView {
  readonly certificate: string;
  /** The keys shared with the instance whose sealing key is `instanceSealingKey`. */
  keysFor(instanceSealingKey: string): SessionKeys;
}

/** The worker's side: its current session, renewed before it expires. */
export class WorkerPushSessions {
  private session: (WorkerSessionView & { readonly renewAt: number }) | undefined;

  constructor(private readonly signingKey: KeyObject) {}

  current(nowSeconds = nowInSeconds()): WorkerSessionView {
    if (!this.session || nowSeconds >= this.session.renewAt) this.session = this.open(nowSeconds);
    return this.session;
  }

  private open(nowSeconds: number): WorkerSessionView & { readonly renewAt: number } {
    const keys = generateSealingKeys();
    const certificate = signToken(this.signingKey, {
      iss: PUSH_SESSION_ISSUER,
      spk: keys.publicKey,
      iat: nowSeconds,
      exp: nowSeconds + SESSION_TTL_SECONDS,
    });
    const peers = new Map<string, SessionKeys>();
    return {
      certificate,
      renewAt: nowSeconds + SESSION_TTL_SECONDS - RENEW_BEFORE_SECONDS,
      keysFor(instanceSealingKey) {
        let shared = peers.get(instanceSealingKey);
        if (!shared) {
          shared = sessionKeys(keys, instanceSealingKey, 'worker');
          if (peers.size >= MAX_PEERS_PER_SESSION) peers.clear();
          peers.set(instanceSealingKey, shared);
        }
        return shared;
      },
    };
  }
}

/** An instance's side: the keys of each worker session it has seen, once its certificate holds. */
export class InstancePushSessions {
  private readonly sessions = new Map<string, { readonly keys: SessionKeys; readonly expiresAt: number }>();

  constructor(
    private readonly verifyKey: KeyObject,
    private readonly sealingKeys: SealingKeyPair,
  ) {}

  /** Throws UnauthenticatedError, naming the reason, unless `certificate` is a current one of the control plane. */
  keysFor(certificate: string, nowSeconds = nowInSeconds()): SessionKeys {
    const known = this.sessions.get(certificate);
    if (known) {
      if (known.expiresAt + CLOCK_SKEW_SECONDS < nowSeconds) throw refused('expired');
      return known.keys;
    }
    const { workerKey, expiresAt } = verifiedCertificate(this.verifyKey, certificate, nowSeconds);
    const keys = sessionKeys(this.sealingKeys, workerKey, 'instance');
    if (this.sessions.size >= MAX_SESSIONS_PER_INSTANCE) {
      this.sessions.delete(this.sessions.keys().next().value as string);
    }
    this.sessions.set(certificate, { keys, expiresAt });
    return keys;
  }
}

const verifiedCertificates = new Map<string, { workerKey: string; iat: number; exp: number }>();
const keyIds = new WeakMap<KeyObject, string>();

/**
 * A certificate's content once it is current and signed with `verifyKey`. Signatures are checked once
 * per process and verify key: a process running many instances (or serving a long session) pays one
 * Ed25519 verification per worker session, while times are checked on every call.
 */
function verifiedCertificate(
  verifyKey: KeyObject,
  certificate: string,
  nowSeconds: number,
): { workerKey: string; expiresAt: number } {
  const cacheKey = `${keyIdOf(verifyKey)} ${certificate}`;
  let claims = verifiedCertificates.get(cacheKey);
  if (!claims) {
    const verified = verifiedClaims(verifyKey, certificate, refused);
    const { iss, spk, iat, exp } = verified;
    if (iss !== PUSH_SESSION_ISSUER) throw refused('wrong issuer');
    if (!isSealingPublicKey(spk)) throw refused('no session key');
    if (typeof iat !== 'number' || typeof exp !== 'number') throw refused('iat and exp are required');
    claims = { workerKey: spk, iat, exp };
    if (verifiedCertificates.size >= MAX_VERIFIED_CERTIFICATES) {
      verifiedCertificates.delete(verifiedCertificates.keys().next().value as string);
    }
    verifiedCertificates.set(cacheKey, claims);
  }
  assertCurrent(
    claims,
    { skewSeconds: CLOCK_SKEW_SECONDS, maxLifetimeSeconds: MAX_LIFETIME_SECONDS, nowSeconds },
    refused,
  );
  return { workerKey: claims.workerKey, expiresAt: claims.exp };
}

function keyIdOf(key: KeyObject): string {
  let id = keyIds.get(key);
  if (!id) {
    id = key.export({ type: 'spki', format: 'der' }).toString('base64');
    keyIds.set(key, id);
  }
  return id;
}

function refused(reason: string): UnauthenticatedError {
  return new UnauthenticatedError(`push session refused: ${reason}`, PUSH_SESSION_METADATA);
}
