/**
 * gRPC clients to instances, kept across rollouts so a rollout's first push finds its connection open
 * (a new channel costs a TCP connection and, over TLS, a handshake before the push can leave). Bounded:
 * past `max` the least recently used idle channel is closed; and a channel unused for `idleMs` is closed,
 * so a worker that met ten thousand instances once does not keep ten thousand sockets. A channel with
 * calls in flight is never closed (grpc-js fails a call still waiting for its connection when its
 * channel closes): the bound is exceeded instead, and restored as those calls end.
 */
export interface PooledChannel {
  close(): void;
}

export interface ChannelPoolLimits {
  /** Channels kept open at most, calls in flight aside. */
  readonly max: number;
  /** A channel unused this long is closed. */
  readonly idleMs: number;
}

interface Entry<C> {
  readonly channel: C;
  lastUsed: number;
  inFlight: number;
}

export class ChannelPool<C extends PooledChannel> {
  /** In least-recently-used order: a Map iterates in insertion order, and every use re-inserts. */
  private readonly channels = new Map<string, Entry<C>>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly limits: ChannelPoolLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Runs `call` on the channel for `key`, made by `create` when there is none open. */
  async use<T>(key: string, create: () => C, call: (channel: C) => Promise<T>): Promise<T> {
    const entry = this.channels.get(key) ?? { channel: create(), lastUsed: 0, inFlight: 0 };
    this.channels.delete(key);
    this.channels.set(key, entry);
    entry.inFlight += 1;
    entry.lastUsed = this.now();
    this.evictPastBound();
    this.sweeper ??= setInterval(() => this.closeIdle(), Math.max(10, this.limits.idleMs / 2)).unref();
    try {
      return await call(entry.channel);
    } finally {
      entry.inFlight -= 1;
      entry.lastUsed = this.now();
      this.evictPastBound();
    }
  }

  get size(): number {
    return this.channels.size;
  }

  /** Closes every channel without calls in flight that was unused for `idleMs`. */
  closeIdle(): void {
    const cutoff = this.now() - this.limits.idleMs;
    for (const [key, entry] of this.channels) {
      if (entry.inFlight === 0 && entry.lastUsed <= cutoff) this.remove(key, entry);
    }
    if (this.channels.size === 0) this.stopSweeper();
  }

  close(): void {
    for (const { channel } of this.channels.values()) channel.close();
    this.channels.clear();
    this.stopSweeper();
  }

  private evictPastBound(): void {
    for (const [key, entry] of this.channels) {
      if (this.channels.size <= this.limits.max) return;
      if (entry.inFlight === 0) this.remove(key, entry);
    }
  }

  private remove(key: string, entry: Entry<C>): void {
    entry.channel.close();
    this.channels.delete(key);
  }

  private stopSweeper(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
