import { describe, expect, it } from 'vitest';
import { tradesTsv, type TradeRow } from './trades.queries.ts';

const row: TradeRow = {
  org_id: 'ORG\\1',
  market: 'BTC-USDT',
  event_id: 'ev\\t',
  trade_id: '42',
  price: '61837.63',
  quantity: '0.001',
  notional_usd: null,
  side: 'BUY',
  executed_at: '2024-08-08 23:59:00.001',
  src_topic: 'exchange.trades.v1',
  src_partition: 2,
  src_offset: 7,
  src_timestamp: '2024-08-08 23:59:00.002',
  executed_at_ms: 0,
};

describe('tradesTsv', () => {
  it('writes one TabSeparated line per row with backslashes escaped and NULL as \\N', () => {
    expect(tradesTsv([row]).toString()).toBe(
      'ORG\\\\1\tBTC-USDT\tev\\\\t\t42\t61837.63\t0.001\t\\N\tBUY\t2024-08-08 23:59:00.001\texchange.trades.v1\t2\t7\t2024-08-08 23:59:00.002\n',
    );
  });
});
