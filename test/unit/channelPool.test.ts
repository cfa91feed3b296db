import { ChannelPool } from '../../activities/refresh/channelPool';

/** The pool's rules one at a time with a clock the test moves; real channels: test/integration/pushChannels. */
class Channel {
  closed = false;
  constructor(readonly key: string) {}
  close() {
    this.closed = true;
  }
}

function pool(max: number, idleMs: number) {
  const clock = { now: 0 };
  const channels = new ChannelPool<Channel>({ max, idleMs }, () => clock.now);
  const made: Channel[] = [];
  /** Uses `key`'s channel for one call that ends at once (or when `until` settles), and answers it. */
  const acquire = (key: string, until: Promise<void> = Promise.resolve()) => {
    let used: Channel | undefined;
    const call = channels.use(
      key,
      () => {
        const channel = new Channel(key);
        made.push(channel);
        return channel;
      },
      async (channel) => {
        used = channel;
        await until;
      },
    );
    return { channel: used!, call };
  };
  return { channels, clock, made, acquire };
}

test('a key gets the same channel back while it is open; another key gets its own', () => {
  const { acquire, made, channels } = pool(8, 1000);
  const first = acquire('orders/i-1@10.0.0.1:7000').channel;
  expect(acquire('orders/i-1@10.0.0.1:7000').channel).toBe(first);
  expect(acquire('orders/i-2@10.0.0.1:7000').channel).not.toBe(first);
  expect(made).toHaveLength(2);
  channels.close();
});

test('past its bound the pool closes the least recently used channel, not the one just used', async () => {
  const { acquire, made, channels } = pool(2, 60_000);
  const a = acquire('a');
  const b = acquire('b');
  await Promise.all([a.call, b.call]);
  await acquire('a').call;
  await acquire('c').call;
  expect(b.channel.closed).toBe(true);
  expect(a.channel.closed).toBe(false);
  expect(channels.size).toBe(2);
  // The evicted key is dialled anew, never handed its closed channel.
  expect(acquire('b').channel).not.toBe(b.channel);
  expect(made).toHaveLength(4);
  channels.close();
});

test('a channel with a call in flight is never closed: the bound waits for the call to end', async () => {
  const { acquire, channels } = pool(1, 1000);
  let finish: () => void = () => {};
  const busy = acquire('busy', new Promise<void>((resolve) => (finish = resolve)));
  const other = acquire('other');
  // Two open while both are busy; once one call ends, the bound closes the only channel it may.
  expect(channels.size).toBe(2);
  await other.call;
  expect(busy.channel.closed).toBe(false);
  expect(other.channel.closed).toBe(true);
  finish();
  await busy.call;
  expect(busy.channel.closed).toBe(false);
  expect(channels.size).toBe(1);
  channels.close();
});

test('channels unused for the idle time are closed; one used since, or busy, stays open', async () => {
  const { acquire, clock, channels } = pool(8, 1000);
  const idle = acquire('idle');
  const used = acquire('used');
  let finish: () => void = () => {};
  const busy = acquire('busy', new Promise<void>((resolve) => (finish = resolve)));
  await Promise.all([idle.call, used.call]);
  clock.now = 800;
  await acquire('used').call;
  clock.now = 1500;
  channels.closeIdle();
  expect(idle.channel.closed).toBe(true);
  expect(used.channel.closed).toBe(false);
  expect(busy.channel.closed).toBe(false);
  finish();
  await busy.call;
  channels.close();
  expect(used.channel.closed).toBe(true);
});
