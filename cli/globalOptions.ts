import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { ApiClient } from './apiClient';
import { UsageError } from './usageError';

/** The options every command takes (defined on the program in cli/program.ts). */
export interface GlobalOptions {
  readonly apiUrl: string;
  readonly tokenFile?: string;
  readonly json: boolean;
}

export function globalOptionsOf(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

/**
 * A client with the caller's token: from --token-file (CFG_TOKEN_FILE) when given, else CFG_TOKEN. No
 * token at all is left for the API to refuse, so the message is the API's own.
 */
export function apiClientFor(options: GlobalOptions): ApiClient {
  return new ApiClient(
    options.apiUrl,
    options.tokenFile ? readTokenFile(options.tokenFile) : process.env.CFG_TOKEN || undefined,
  );
}

function readTokenFile(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw new UsageError(`--token-file: cannot read ${path}: ${(error as Error).message}`);
  }
}
