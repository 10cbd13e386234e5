/**
 * Tells whether an org's data may have changed. Ingest in the same process bumps it after each
 * insert; in a split deployment it never moves and the cache's age limit alone bounds staleness.
 */
export class DataVersions {
  private readonly versions = new Map<string, number>();

  bump(orgId: string): void {
    this.versions.set(orgId, (this.versions.get(orgId) ?? 0) + 1);
  }

  of(orgId: string): number {
    return this.versions.get(orgId) ?? 0;
  }
}

interface Entry<T> {
  promise: Promise<T>;
  version: number;
  createdAt: number;
}

/**
 * Coalesces identical concurrent queries into one and reuses a result until the org's data
 * changes or it is `ttlMs` old, whichever comes first. Failures are never cached.
 */
export class QueryCache {
  private readonly entries = new Map<string, Entry<unknown>>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly versions: DataVersions,
    private readonly ttlMs: number,
    private readonly maxEntries = 5_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get<T>(orgId: string, key: string, load: () => Promise<T>): Promise<T> {
    const fullKey = `${orgId}\u0000${key}`;
    const version = this.versions.of(orgId);
    const found = this.entries.get(fullKey) as Entry<T> | undefined;
    if (found && found.version === version && this.now() - found.createdAt < this.ttlMs) {
      this.hits++;
      return found.promise;
    }
    this.misses++;
    const promise = load();
    const entry: Entry<T> = { promise, version, createdAt: this.now() };
    if (this.ttlMs > 0) {
      if (this.entries.size >= this.maxEntries) this.evictOldest();
      this.entries.set(fullKey, entry);
      promise.catch(() => {
        if (this.entries.get(fullKey) === entry) this.entries.delete(fullKey);
      });
    }
    return promise;
  }

  private evictOldest(): void {
    const cutoff = this.now() - this.ttlMs;
    for (const [k, e] of this.entries) if (e.createdAt < cutoff) this.entries.delete(k);
    if (this.entries.size >= this.maxEntries) {
      const first = this.entries.keys().next();
      if (!first.done) this.entries.delete(first.value);
    }
  }
}
