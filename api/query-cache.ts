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
  refreshing: boolean;
}

/**
 * Coalesces identical concurrent queries into one and reuses a result until the data it covers
 * changes or it is `ttlMs` old, whichever comes first. A result past half its age is refreshed
 * in the background while it is still served, so polled queries rarely wait for ClickHouse.
 * Failures are never cached.
 */
export class QueryCache {
  private readonly entries = new Map<string, Entry<unknown>>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly changes: DataChanges,
    private readonly ttlMs: number,
    private readonly maxEntries = 5_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get<T>(scope: CacheScope, key: string, load: () => Promise<T>): Promise<T> {
    const fullKey = `${scope.orgId}\u0000${key}`;
    const found = this.entries.get(fullKey) as Entry<T> | undefined;
    const age = found ? this.now() - found.createdAt : Infinity;
    if (found && age < this.ttlMs && !this.changes.changedSince(scope, found.seq)) {
      this.hits++;
      if (found.settled && !found.refreshing && age >= this.ttlMs / 2) {
        found.refreshing = true;
        this.start(fullKey, load, true).promise.catch(() => {
          found.refreshing = false;
        });
      }
      return found.promise;
    }
    this.misses++;
    return this.start(fullKey, load, false).promise;
  }

  /** A background refresh replaces the served entry only once it has succeeded; a miss at once. */
  private start<T>(fullKey: string, load: () => Promise<T>, background: boolean): Entry<T> {
    const seq = this.changes.seq;
    const createdAt = this.now();
    const promise = load();
    const entry: Entry<T> = { promise, seq, createdAt, settled: false, refreshing: false };
    if (this.ttlMs <= 0) return entry;
    if (!background) {
      if (this.entries.size >= this.maxEntries) this.evictOldest();
      this.entries.set(fullKey, entry);
    }
    promise.then(
      () => {
        entry.settled = true;
        const current = this.entries.get(fullKey);
        if (current !== entry && (!current || current.createdAt <= createdAt)) this.entries.set(fullKey, entry);
      },
      () => {
        if (this.entries.get(fullKey) === entry) this.entries.delete(fullKey);
      },
    );
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
