import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SettingsError } from './settings';
import { ed25519Key } from './signedToken';
import { errorMessage } from './errors';

/** An Ed25519 key from a PEM file; a missing or wrong file stops the process naming its setting. */
export function keyFromFile(file: string, kind: 'private' | 'public', setting: string): KeyObject {
  const pem = pemFromFile(file, setting);
  const key = ed25519Key(pem, kind);
  if (!key) {
    throw new SettingsError(`invalid environment: ${setting}: ${file} is not an Ed25519 ${kind} key in PEM`);
  }
  return key;
}

/** A PEM file's text (a certificate, a CA bundle, a key); a missing file stops the process naming its setting. */
export function pemFromFile(file: string, setting: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const reason = errorMessage(error);
    throw new SettingsError(`invalid environment: ${setting}: cannot read ${file}: ${reason}`);
  }
}
