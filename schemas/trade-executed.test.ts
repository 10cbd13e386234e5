import { describe, expect, it } from 'vitest';
import { parseExecutedAt, TradeExecutedV1 } from './trade-executed.ts';

const valid = {
  eventId: 'binance-spot-BTCUSDT-3709335101',
  orgId: 'ORG123',
  market: 'BTC-USDT',
  tradeId: '3709335101',
  price: '61837.63000000',
  quantity: '0.00081000',
  side: 'BUY',
  executedAt: '2024-08-08T23:59:00.012Z',
};

describe('TradeExecuted v1 validator', () => {
  it('accepts a real trade and normalises its time to epoch milliseconds', () => {
    const e = TradeExecutedV1.parse(valid);
    expect(e.executedAtMs).toBe(Date.UTC(2024, 7, 8, 23, 59, 0, 12));
    expect(e.price).toBe('61837.63000000');
    expect(e.notionalUsd).toBeNull();
  });

  it('accepts epoch milliseconds as executedAt', () => {
    expect(TradeExecutedV1.parse({ ...valid, executedAt: '1723161540012' }).executedAtMs).toBe(1723161540012);
    expect(TradeExecutedV1.parse({ ...valid, executedAt: 1723161540012 }).executedAtMs).toBe(1723161540012);
  });

  it.each([
    ['a missing eventId', { eventId: undefined }, 'eventId'],
    ['a missing orgId', { orgId: undefined }, 'orgId'],
    ['a zero quantity', { quantity: '0.000' }, 'quantity'],
    ['a negative quantity', { quantity: '-1' }, 'quantity'],
    ['a non-numeric price', { price: 'abc' }, 'price'],
    ['a price as a JSON number', { price: 61837.63 }, 'price'],
    ['a price with 13 decimals', { price: '1.0000000000001' }, 'price'],
    ['a quantity with 16 integer digits', { quantity: '1000000000000000' }, 'quantity'],
    ['an orgId with a quote', { orgId: "ORG1' OR 1=1--" }, 'orgId'],
    ['an unknown side', { side: 'HOLD' }, 'side'],
    ['a lower-case side', { side: 'buy' }, 'side'],
    ['an unparseable timestamp', { executedAt: 'yesterday' }, 'executedAt'],
    ['a timestamp in seconds', { executedAt: '1723161540' }, 'executedAt'],
    ['a timestamp with a non-UTC offset', { executedAt: '2024-08-08T23:59:00.012+02:00' }, 'executedAt'],
    ['a market without a quote', { market: 'BTCUSDT' }, 'market'],
  ])('rejects %s', (_label, patch, field) => {
    const r = TradeExecutedV1.safeParse({ ...valid, ...patch });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path[0])).toContain(field);
  });

  it('reads only UTC ISO-8601 or epoch milliseconds between 2000 and 2100', () => {
    expect(parseExecutedAt('2024-08-09T00:00:00Z')).toBe(Date.UTC(2024, 7, 9));
    expect(parseExecutedAt('1999-12-31T23:59:59Z')).toBeNull();
    expect(parseExecutedAt('')).toBeNull();
  });
});
