import { describe, expect, it } from 'vitest';
import { DataChanges, QueryCache, type CacheScope } from './query-cache.ts';

const DAY = Date.UTC(2024, 7, 8);
const scope = (orgId = 'o', markets: string[] = ['BTC-USDT']): CacheScope => ({ orgId, markets, fromMs: DAY, toMs: DAY + 86_400_000 });
const tick = () => new Promise((r) => setTimeout(r, 0));
const counter = () => {
  const c = { loads: 0, how: { load: async () => ++c.loads } };
  return c;
};

describe('QueryCache', () => {
  it('coalesces identical concurrent queries into one load', async () => {
    const cache = new QueryCache(new DataChanges(), 1000);
    let loads = 0;
    const how = { load: () => new Promise<number>((r) => setTimeout(() => r(++loads), 10)) };
    const results = await Promise.all(Array.from({ length: 50 }, () => cache.get(scope(), 'k', how)));
    expect(new Set(results)).toEqual(new Set([1]));
    expect(loads).toBe(1);
  });

  it('reloads once the data it covers changed, and only then', async () => {
    const changes = new DataChanges();
    const cache = new QueryCache(changes, 60_000);
    const c = counter();
    await cache.get(scope(), 'k', c.how);
    changes.record('other-org', 'BTC-USDT', DAY, DAY);
    changes.record('o', 'ETH-USDT', DAY, DAY);
    changes.record('o', 'BTC-USDT', DAY - 86_400_000, DAY - 1);
    expect(await cache.get(scope(), 'k', c.how)).toBe(1);
    changes.record('o', 'BTC-USDT', DAY + 5, DAY + 5);
    expect(await cache.get(scope(), 'k', c.how)).toBe(2);
  });

  it('treats an empty market list as every market', async () => {
    const changes = new DataChanges();
    const cache = new QueryCache(changes, 60_000);
    const c = counter();
    await cache.get(scope('o', []), 'k', c.how);
    changes.record('o', 'ANY-USD', DAY + 1, DAY + 1);
    expect(await cache.get(scope('o', []), 'k', c.how)).toBe(2);
  });

  it('never serves a result older than the age limit, and reloads it in the background past half of it', async () => {
    let now = 0;
    const cache = new QueryCache(new DataChanges(), 1000, 100, () => now);
    const c = counter();
    await cache.get(scope(), 'k', c.how);
    now = 400;
    expect(await cache.get(scope(), 'k', c.how)).toBe(1);
    now = 600; // past half: served from cache, reloaded behind the scenes
    expect(await cache.get(scope(), 'k', c.how)).toBe(1);
    await tick();
    await tick();
    expect(c.loads).toBe(2);
    expect(await cache.get(scope(), 'k', c.how)).toBe(2);
    now = 5000; // far too old: the request waits for a fresh result
    expect(await cache.get(scope(), 'k', c.how)).toBe(3);
  });

  it('revalidates an aged result with the fingerprint instead of reloading it, and reloads when it moved', async () => {
    let now = 0;
    const cache = new QueryCache(new DataChanges(), 1000, 100, () => now);
    let loads = 0;
    let source = 'v1';
    const how = { load: async () => ({ n: ++loads, fp: source }), fingerprint: async () => source, fingerprintOf: (v: { fp: string }) => v.fp };
    await cache.get(scope(), 'k', how);
    now = 1500; // too old, but the source says nothing changed
    expect((await cache.get(scope(), 'k', how)).n).toBe(1);
    expect(cache.revalidated).toBe(1);
    now = 3000;
    source = 'v2'; // a writer this process does not see changed the covered data
    expect((await cache.get(scope(), 'k', how)).n).toBe(2);
  });

  it('keeps orgs apart even for the same key', async () => {
    const cache = new QueryCache(new DataChanges(), 60_000);
    expect(await cache.get(scope('a'), 'k', { load: async () => 'A' })).toBe('A');
    expect(await cache.get(scope('b'), 'k', { load: async () => 'B' })).toBe('B');
  });

  it('never caches a failure', async () => {
    const cache = new QueryCache(new DataChanges(), 60_000);
    await expect(cache.get(scope(), 'k', { load: () => Promise.reject(new Error('boom')) })).rejects.toThrow('boom');
    await tick();
    expect(await cache.get(scope(), 'k', { load: async () => 'ok' })).toBe('ok');
  });

  it('assumes a change when older changes were forgotten', () => {
    const changes = new DataChanges(2);
    const since = changes.seq;
    for (let i = 0; i < 5; i++) changes.record('o', 'X-Y', 0, 0);
    expect(changes.changedSince(scope(), since)).toBe(true);
  });
});
