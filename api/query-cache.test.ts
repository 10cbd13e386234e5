import { describe, expect, it } from 'vitest';
import { DataChanges, QueryCache, type CacheScope } from './query-cache.ts';

const DAY = Date.UTC(2024, 7, 8);
const scope = (orgId = 'o', markets: string[] = ['BTC-USDT']): CacheScope => ({ orgId, markets, fromMs: DAY, toMs: DAY + 86_400_000 });
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('QueryCache', () => {
  it('coalesces identical concurrent queries into one load', async () => {
    const cache = new QueryCache(new DataChanges(), 1000);
    let loads = 0;
    const load = () => new Promise<number>((r) => setTimeout(() => r(++loads), 10));
    const results = await Promise.all(Array.from({ length: 50 }, () => cache.get(scope(), 'k', load)));
    expect(new Set(results)).toEqual(new Set([1]));
    expect(loads).toBe(1);
  });

  it('reloads once the data it covers changed, and only then', async () => {
    const changes = new DataChanges();
    const cache = new QueryCache(changes, 60_000);
    let loads = 0;
    await cache.get(scope(), 'k', async () => ++loads);
    changes.record('other-org', 'BTC-USDT', DAY, DAY);
    changes.record('o', 'ETH-USDT', DAY, DAY);
    changes.record('o', 'BTC-USDT', DAY - 86_400_000, DAY - 1);
    expect(await cache.get(scope(), 'k', async () => ++loads)).toBe(1);
    changes.record('o', 'BTC-USDT', DAY + 5, DAY + 5);
    expect(await cache.get(scope(), 'k', async () => ++loads)).toBe(2);
  });

  it('treats an empty market list as every market', async () => {
    const changes = new DataChanges();
    const cache = new QueryCache(changes, 60_000);
    let loads = 0;
    await cache.get(scope('o', []), 'k', async () => ++loads);
    changes.record('o', 'ANY-USD', DAY + 1, DAY + 1);
    expect(await cache.get(scope('o', []), 'k', async () => ++loads)).toBe(2);
  });

  it('never serves a result older than the age limit, and refreshes it in the background past half of it', async () => {
    let now = 0;
    const cache = new QueryCache(new DataChanges(), 1000, 100, () => now);
    let loads = 0;
    await cache.get(scope(), 'k', async () => ++loads);
    now = 400;
    expect(await cache.get(scope(), 'k', async () => ++loads)).toBe(1);
    expect(loads).toBe(1);
    now = 600; // past half: served from cache, refreshed behind the scenes
    expect(await cache.get(scope(), 'k', async () => ++loads)).toBe(1);
    await tick();
    expect(loads).toBe(2);
    expect(await cache.get(scope(), 'k', async () => ++loads)).toBe(2);
    now = 600 + 1000; // the refreshed result is now too old too
    expect(await cache.get(scope(), 'k', async () => ++loads)).toBe(3);
  });

  it('keeps orgs apart even for the same key', async () => {
    const cache = new QueryCache(new DataChanges(), 60_000);
    expect(await cache.get(scope('a'), 'k', async () => 'A')).toBe('A');
    expect(await cache.get(scope('b'), 'k', async () => 'B')).toBe('B');
  });

  it('never caches a failure', async () => {
    const cache = new QueryCache(new DataChanges(), 60_000);
    await expect(cache.get(scope(), 'k', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await tick();
    expect(await cache.get(scope(), 'k', async () => 'ok')).toBe('ok');
  });

  it('assumes a change when older changes were forgotten', () => {
    const changes = new DataChanges(2);
    const since = changes.seq;
    for (let i = 0; i < 5; i++) changes.record('o', 'X-Y', 0, 0);
    expect(changes.changedSince(scope(), since)).toBe(true);
  });
});
