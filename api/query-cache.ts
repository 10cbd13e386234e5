/** What a cached result covers: one org, a set of markets (empty = all) and a time range. */
export interface CacheScope {
  orgId: string;
  markets: readonly string[];
  fromMs: number;
  toMs: number;
}

interface Change {
  seq: number;
  market: string;
  fromMs: number;
  toMs: number;
}

/**
 * Records which (org, market, execution-time range) got new rows, so a cached result is dropped
 * exactly when the data it covers changes. Ingest in the same process feeds it; in a split
 * deployment nothing does and the cache's age limit alone bounds staleness.
 */
export class DataChanges {
  private seqNow = 0;
  private readonly byOrg = new Map<string, { changes: Change[]; forgottenBefore: number }>();

  constructor(private readonly perOrgMax = 2_000) {}

  get seq(): number {
    return this.seqNow;
  }

  record(orgId: string, market: string, fromMs: number, toMs: number): void {
    const seq = ++this.seqNow;
    let log = this.byOrg.get(orgId);
    if (!log) this.byOrg.set(orgId, (log = { changes: [], forgottenBefore: 0 }));
    log.changes.push({ seq, market, fromMs, toMs });
    if (log.changes.length > this.perOrgMax) {
      const dropped = log.changes.splice(0, log.changes.length - this.perOrgMax);
      log.forgottenBefore = dropped[dropped.length - 1]!.seq + 1;
    }
  }

  /** Whether anything in scope changed after `sinceSeq`. */
  changedSince(scope: CacheScope, sinceSeq: number): boolean {
    const log = this.byOrg.get(scope.orgId);
    if (!log) return false;
    if (sinceSeq < log.forgottenBefore - 1) return true;
    for (let i = log.changes.length - 1; i >= 0; i--) {
      const c = log.changes[i]!;
      if (c.seq <= sinceSeq) break;
      const marketHit = scope.markets.length === 0 || scope.markets.includes(c.market);
      if (marketHit && c.fromMs < scope.toMs && c.toMs >= scope.fromMs) return true;
    }
    return false;
  }
}

interface Entry<T> {
  promise: Promise<T>;
  seq: number;
  createdAt: number;
  settled: boolean;
  /** What the source said about the covered data when this result was loaded. */
  fingerprint?: string | null;
  /** An in-flight check or reload started for this entry, shared by concurrent requests. */
  renewing?: Promise<void>;
}

export interface CacheLoad<T> {
  load: () => Promise<T>;
  /** The fingerprint a loaded value carries (read in the same snapshot as the value), if any. */
  fingerprintOf?: (value: T) => string | null;
  /**
   * A cheap question to the source whose answer changes whenever the covered data does (for
   * windows: row count and latest ingestion time). With it, an aged result is revalidated
   * rather than recomputed, and a writer this process does not see is still noticed.
   */
  fingerprint?: () => Promise<string | null>;
}

/**
 * Coalesces identical concurrent queries into one and reuses a result until the data it covers
 * changes or for at most `ttlMs` without being checked against the source. Past half that age
 * the check (or a reload) runs in the background while the result is still served, so polled
 * queries rarely wait for ClickHouse. Failures are never cached.
 */
export class QueryCache {
  private readonly entries = new Map<string, Entry<unknown>>();
  hits = 0;
  misses = 0;
  revalidated = 0;

  constructor(
    private readonly changes: DataChanges,
    private readonly ttlMs: number,
    private readonly maxEntries = 5_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  async get<T>(scope: CacheScope, key: string, how: CacheLoad<T>): Promise<T> {
    const fullKey = `${scope.orgId}\u0000${key}`;
    const found = this.entries.get(fullKey) as Entry<T> | undefined;
    if (!found || this.ttlMs <= 0 || this.changes.changedSince(scope, found.seq)) return this.miss(fullKey, how);
    const age = this.now() - found.createdAt;
    if (age < this.ttlMs / 2 || !found.settled) {
      this.hits++;
      return found.promise;
    }
    found.renewing ??= this.renew(fullKey, found, how).finally(() => {
      found.renewing = undefined;
    });
    if (age < this.ttlMs) {
      this.hits++;
      return found.promise;
    }
    await found.renewing.catch(() => undefined);
    const current = this.entries.get(fullKey) as Entry<T> | undefined;
    if (current && current !== found && !this.changes.changedSince(scope, current.seq)) return current.promise;
    if (current === found && this.now() - found.createdAt < this.ttlMs) return found.promise;
    return this.miss(fullKey, how);
  }

  /** Checks an aged entry against the source: unchanged data renews it, changed data reloads it. */
  private async renew<T>(fullKey: string, entry: Entry<T>, how: CacheLoad<T>): Promise<void> {
    const checkedAt = this.now();
    if (how.fingerprint && typeof entry.fingerprint === 'string') {
      const seq = this.changes.seq;
      if ((await how.fingerprint()) === entry.fingerprint) {
        this.revalidated++;
        entry.createdAt = checkedAt;
        entry.seq = Math.max(entry.seq, seq);
        return;
      }
    }
    const fresh = this.start(how);
    await fresh.promise;
    if (this.entries.get(fullKey) === entry) this.entries.set(fullKey, fresh);
  }

  private miss<T>(fullKey: string, how: CacheLoad<T>): Promise<T> {
    this.misses++;
    const entry = this.start(how);
    if (this.ttlMs > 0) {
      if (this.entries.size >= this.maxEntries) this.evictOldest();
      this.entries.set(fullKey, entry);
      entry.promise.catch(() => {
        if (this.entries.get(fullKey) === entry) this.entries.delete(fullKey);
      });
    }
    return entry.promise;
  }

  private start<T>(how: CacheLoad<T>): Entry<T> {
    const entry: Entry<T> = { promise: Promise.resolve() as Promise<T>, seq: this.changes.seq, createdAt: this.now(), settled: false };
    entry.promise = (async () => {
      const value = await how.load();
      entry.fingerprint = how.fingerprintOf?.(value) ?? undefined;
      entry.settled = true;
      return value;
    })();
    return entry;
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
