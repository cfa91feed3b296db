import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { toolPath } from '../../scripts/stack/index';
import { PROMETHEUS_DEPLOY_DIR } from '../../scripts/stack/prometheusConfig';

/**
 * The shipped Prometheus configuration and rules, checked by Prometheus's own promtool (Debian's,
 * installed by scripts/setup.sh): they parse, and each alert fires on a synthetic series that breaks
 * its rule and stays quiet otherwise (deploy/prometheus/rules.test.yml).
 */
const run = promisify(execFile);
const promtool = (...args: string[]) => run(toolPath('promtool'), args, { cwd: PROMETHEUS_DEPLOY_DIR });

test('promtool accepts the shipped recording and alert rules', async () => {
  const { stdout } = await promtool('check', 'rules', 'recording-rules.yml', 'alert-rules.yml');
  expect(stdout).toMatch(/recording-rules\.yml\n\s+SUCCESS: 4 rules found/);
  expect(stdout).toMatch(/alert-rules\.yml\n\s+SUCCESS: 15 rules found/);
});

test('promtool accepts the shipped configuration, its rule files included', async () => {
  const { stdout } = await promtool('check', 'config', 'prometheus.yml');
  expect(stdout).toContain('SUCCESS: 2 rule files found');
  expect(stdout).toContain('is valid prometheus config file syntax');
});

test('each alert fires on its synthetic breach and stays quiet otherwise (promtool test rules)', async () => {
  const { stdout } = await promtool('test', 'rules', 'rules.test.yml');
  expect(stdout).toContain('SUCCESS');
});

describe('the rules test fails when a rule stops guarding', () => {
  let copy: string;
  beforeEach(() => {
    copy = mkdtempSync(path.join(tmpdir(), 'rules-'));
    cpSync(PROMETHEUS_DEPLOY_DIR, copy, { recursive: true });
  });
  afterEach(() => rmSync(copy, { recursive: true, force: true }));

  /** promtool's report of the rules test after `from` became `to` in `file`; it must fail. */
  const failureAfter = async (file: string, from: string, to: string): Promise<string> => {
    const text = readFileSync(path.join(copy, file), 'utf8');
    expect(text).toContain(from);
    writeFileSync(path.join(copy, file), text.replace(from, to));
    const outcome = await run(toolPath('promtool'), ['test', 'rules', 'rules.test.yml'], { cwd: copy }).then(
      () => undefined,
      (error: { stderr?: string }) => error.stderr ?? '',
    );
    if (outcome === undefined) throw new Error(`promtool test rules still passes with ${to}`);
    return outcome;
  };

  test('a push failure threshold no ratio reaches', async () => {
    const report = await failureAfter(
      'alert-rules.yml',
      'cfg:push_failure_ratio:rate5m > 0.1',
      'cfg:push_failure_ratio:rate5m > 0.9',
    );
    expect(report).toContain('CfgPushFailureRatioHigh');
  });

  test('a stuck-approval alert without its wait', async () => {
    expect(await failureAfter('alert-rules.yml', 'for: 4h', 'for: 1m')).toContain(
      'CfgRolloutAwaitingApprovalTooLong',
    );
  });

  test('a behind-live alert that counts keys an instance caught up on', async () => {
    const report = await failureAfter(
      'alert-rules.yml',
      'max by (instance) (cfg_sdk_keys_behind_live) > 0',
      'max by (instance) (max_over_time(cfg_sdk_keys_behind_live[15m])) > 0',
    );
    expect(report).toContain('CfgInstancesBehindLive');
  });
});
