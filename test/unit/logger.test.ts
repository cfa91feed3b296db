import { createLogger } from '../../common/logger';
import { loadLogSettings } from '../../common/settings';

/** What `run` wrote to stdout and to stderr, line by line. */
function written(run: () => void): { stdout: string[]; stderr: string[] } {
  const lines = { stdout: [] as string[], stderr: [] as string[] };
  const capture = (stream: NodeJS.WriteStream, into: string[]) =>
    jest.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      into.push(...String(chunk).split('\n').filter(Boolean));
      return true;
    });
  const spies = [capture(process.stdout, lines.stdout), capture(process.stderr, lines.stderr)];
  try {
    run();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return lines;
}

test('a log line is one JSON object: time, level, message, then every field, Powertools-reserved names and empty values included', () => {
  const logger = createLogger({ component: 'orders-worker', service: 'orders' }, 'info');
  const { stdout, stderr } = written(() =>
    logger.info('pushed', { tenantId: 'tenant-a', key: 'param_config_db', reason: '', previous: null }),
  );
  expect(stderr).toEqual([]);
  expect(stdout).toHaveLength(1);
  const line = JSON.parse(stdout[0]!) as Record<string, unknown>;
  expect(Object.keys(line)).toEqual([
    'time',
    'level',
    'message',
    'component',
    'service',
    'tenantId',
    'key',
    'reason',
    'previous',
  ]);
  expect(line).toMatchObject({
    level: 'info',
    message: 'pushed',
    service: 'orders',
    reason: '',
    previous: null,
  });
  expect(new Date(line.time as string).toISOString()).toBe(line.time);
});

test('warnings and errors go to stderr, an error field as its name, message and stack; a child adds its fields', () => {
  const logger = createLogger({ component: 'rollout-worker' }, 'info').child({ rolloutId: 'r-1' });
  const { stdout, stderr } = written(() => {
    logger.warn('slow instance', { instanceId: 'i-1' });
    logger.error('push failed', { error: new TypeError('socket closed') });
  });
  expect(stdout).toEqual([]);
  const [warning, failure] = stderr.map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(warning).toMatchObject({
    level: 'warn',
    component: 'rollout-worker',
    rolloutId: 'r-1',
    instanceId: 'i-1',
  });
  expect(failure).toMatchObject({
    level: 'error',
    rolloutId: 'r-1',
    error: { name: 'TypeError', message: 'socket closed' },
  });
  expect((failure?.error as { stack: string }).stack).toContain('TypeError: socket closed');
});

test('lines below the logger level are not written; LOG_LEVEL sets it, and anything but the four levels means info', () => {
  const { stdout, stderr } = written(() => {
    const quiet = createLogger({}, 'warn');
    quiet.debug('d');
    quiet.info('i');
    quiet.warn('w');
  });
  expect(stdout).toEqual([]);
  expect(stderr.map((line) => (JSON.parse(line) as { message: string }).message)).toEqual(['w']);
  expect(loadLogSettings({ LOG_LEVEL: 'debug' }).level).toBe('debug');
  expect(loadLogSettings({ LOG_LEVEL: 'loud' }).level).toBe('info');
  expect(loadLogSettings({}).level).toBe('info');
});
