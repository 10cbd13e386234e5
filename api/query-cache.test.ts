import { describe, expect, it } from 'vitest';
import { DataVersions, QueryCache } from './query-cache.ts';

describe('QueryCache', () => {
  it('coalesces identical concurrent queries into one load', async () => {
    const cache = new QueryCache(new DataVersions(), 1000);
    let loads = 0;
    const load = () => new Promise<number>((r) => setTimeout(() => r(++loads), 10));
    const results = await Promise.all(Array.from({ length: 50 }, () => cache.get('o', 'k', load)));
    expect(new Set(results)).toEqual(new Set([1]));
    expect(loads).toBe(1);
  });

  it('reloads once the org’s data changed', async () => {
    const versions = new DataVersions();
    const cache = new QueryCache(versions, 60_000);
    let loads = 0;
    await cache.get('o', 'k', async () => ++loads);
    versions.bump('o');
    expect(await cache.get('o', 'k', async () => ++loads)).toBe(2);
    versions.bump('other-org');
    expect(await cache.get('o', 'k', async () => ++loads)).toBe(2);
  });

  it('reloads after the age limit even without a change', async () => {
    let now = 0;
    const cache = new QueryCache(new DataVersions(), 1000, 100, () => now);
    let loads = 0;
    await cache.get('o', 'k', async () => ++loads);
    now = 999;
    expect(await cache.get('o', 'k', async () => ++loads)).toBe(1);
    now = 1000;
    expect(await cache.get('o', 'k', async () => ++loads)).toBe(2);
  });

  it('keeps orgs apart even for the same key', async () => {
    const cache = new QueryCache(new DataVersions(), 60_000);
    expect(await cache.get('a', 'k', async () => 'A')).toBe('A');
    expect(await cache.get('b', 'k', async () => 'B')).toBe('B');
  });

  it('never caches a failure', async () => {
    const cache = new QueryCache(new DataVersions(), 60_000);
    await expect(cache.get('o', 'k', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await new Promise((r) => setTimeout(r, 0));
    expect(await cache.get('o', 'k', async () => 'ok')).toBe('ok');
  });
});
