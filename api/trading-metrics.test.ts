import { describe, expect, it } from 'vitest';
import { AppError } from './errors.ts';
import { decodeCursor, encodeCursor, resolveRange } from './trading-metrics.routes.ts';

const now = new Date('2024-08-09T00:05:30Z');

describe('resolveRange', () => {
  it('aligns outward to whole buckets in UTC', () => {
    const r = resolveRange('1h', new Date('2024-08-08T10:30:00Z'), new Date('2024-08-08T12:10:00Z'), now);
    expect([r.from.toISOString(), r.to.toISOString()]).toEqual(['2024-08-08T10:00:00.000Z', '2024-08-08T13:00:00.000Z']);
  });

  it('defaults to the last day of hourly windows ending now', () => {
    const r = resolveRange('1h', undefined, undefined, now);
    expect([r.from.toISOString(), r.to.toISOString()]).toEqual(['2024-08-08T01:00:00.000Z', '2024-08-09T01:00:00.000Z']);
  });

  it.each([
    ['1m', 7, 8],
    ['5m', 31, 32],
    ['1h', 366, 367],
    ['1d', 1830, 1831],
  ] as const)('allows %s ranges of %i days and refuses %i', (interval, ok, tooMany) => {
    const from = new Date('2020-01-01T00:00:00Z');
    expect(() => resolveRange(interval, from, new Date(from.getTime() + ok * 86_400_000), now)).not.toThrow();
    expect(() => resolveRange(interval, from, new Date(from.getTime() + tooMany * 86_400_000), now)).toThrow(AppError);
  });
});

describe('cursor', () => {
  it('round-trips and is bound to its query', () => {
    const c = encodeCursor({ b: 1723161540000, m: 'BTC-USDT', q: 'abc' });
    expect(decodeCursor(c, 'abc')).toEqual({ bucket: new Date(1723161540000), market: 'BTC-USDT' });
    expect(() => decodeCursor(c, 'other')).toThrow('different query');
  });
});
