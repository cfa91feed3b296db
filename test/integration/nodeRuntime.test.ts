import { execFile } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { COMPONENTS, pidFile } from '../../scripts/stack/index';

/**
 * The project runs on Node 24 (Node 20 reached end of life on 2026-04-30): the tests themselves, the
 * local stack's processes, and the AWS SDK without its old-Node notice switched off. The artefacts that
 * name a Node version are pinned in deployArtifacts.test.ts.
 */
const run = promisify(execFile);
const NODE_MAJOR = 24;

const majorOf = (version: string) => Number(/^v?(\d+)\./.exec(version.trim())?.[1]);

test(`the test process itself runs on Node ${NODE_MAJOR} or newer`, () => {
  // The version stands beside the verdict so a failure names the node that ran.
  expect({ node: process.version, supported: majorOf(process.version) >= NODE_MAJOR }).toEqual({
    node: process.version,
    supported: true,
  });
});

test(`the stack's own processes (the local issuer, started by the jest setup) run on Node ${NODE_MAJOR} or newer`, async () => {
  const pid = Number(readFileSync(pidFile('issuer'), 'utf8').trim());
  // tsx is started through `#!/usr/bin/env node`, so the process is the node binary that env found.
  const node = readlinkSync(`/proc/${pid}/exe`);
  const { stdout } = await run(node, ['--version']);
  expect({ node, supported: majorOf(stdout) >= NODE_MAJOR }).toEqual({ node, supported: true });
});

test('the stack starts its TypeScript processes with the node that runs the stack first on their PATH', () => {
  const issuer = COMPONENTS.find((component) => component.name === 'issuer');
  const searchPath = issuer?.launch().env?.PATH?.split(path.delimiter) ?? [];
  expect(searchPath[0]).toBe(path.dirname(process.execPath));
});

test('the AWS SDK gives no Node-version notice, with the variable that silenced it on Node 20 unset', async () => {
  const env = { ...process.env };
  delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  const script = `new (require('@aws-sdk/client-ssm').SSMClient)({ region: 'us-east-1' }); console.log('client made');`;
  const { stdout, stderr } = await run(process.execPath, ['-e', script], { env });
  expect({ stdout: stdout.trim(), stderr }).toEqual({ stdout: 'client made', stderr: '' });
});
