import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

export interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

const CFGCTL = path.join(__dirname, '..', '..', 'bin', 'cfgctl.js');
const execute = promisify(execFile);

/** Runs the real cfgctl binary against an API with a token, and answers how it ended. */
export async function runCfgctl(apiUrl: string, args: string[], token = ''): Promise<CliOutcome> {
  const env = { ...process.env, CFG_API_URL: apiUrl, CFG_TOKEN: token };
  try {
    const { stdout, stderr } = await execute(process.execPath, [CFGCTL, ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as CliOutcome;
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
