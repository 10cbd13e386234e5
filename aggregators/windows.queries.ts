import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';
import type { Tables } from './tables.ts';

export const INTERVALS = ['1m', '5m', '1h', '1d'] as const;
export type Interval = (typeof INTERVALS)[number];

export const INTERVAL_MS: Record<Interval, number> = {
  '1m': 60_000,
  '5m': 300_000,
  '1h': 3_600_000,
  '1d': 86_400_000,
};

/** Which materialized table answers each interval, and how its rows group into buckets. */
const SOURCES: Record<Interval, { table: keyof Tables; bucket: string }> = {
  '1m': { table: 'trades1m', bucket: 'w.window_start' },
  '5m': { table: 'trades1m', bucket: 'toStartOfFiveMinutes(w.window_start)' },
  '1h': { table: 'trades1h', bucket: 'w.window_start' },
  '1d': { table: 'trades1d', bucket: 'w.window_start' },
};

export interface WindowsQuery {
  orgId: string;
  interval: Interval;
  /** Inclusive, aligned to the interval. */
  from: Date;
  /** Exclusive, aligned to the interval. */
  to: Date;
  markets: string[];
  limit: number;
  /** Keyset position: rows strictly after (bucket, market). */
  after?: { bucket: Date; market: string };
}

/** One window of one market. Decimals stay strings from ClickHouse to JSON. */
export interface TradingWindow {
  timestamp: Date;
  market: string;
  trades: number;
  volume: string;
  buyVolume: string;
  sellVolume: string;
  notional: string;
  notionalUSD: string;
  usdMissingTrades: number;
  vwap: string | null;
  open: string;
  high: string;
  low: string;
  close: string;
  firstTradeAt: Date;
  lastTradeAt: Date;
  lastIngestedAt: Date;
}

const Row = z.object({
  bucket_ms: z.coerce.number(),
  market: z.string(),
  trades: z.coerce.number(),
  volume: z.string(),
  buy_volume: z.string(),
  sell_volume: z.string(),
  notional: z.string(),
  notional_usd: z.string(),
  usd_missing: z.coerce.number(),
  vwap: z.string().nullable(),
  open: z.string(),
  high: z.string(),
  low: z.string(),
  close: z.string(),
  first_ms: z.coerce.number(),
  last_ms: z.coerce.number(),
  ingested_ms: z.coerce.number(),
  fp_trades: z.coerce.string(),
  fp_ingested_ms: z.coerce.string(),
});

/**
 * A cheap fingerprint of the windows a query covers: trade count and latest ingestion time. Any
 * insert into the covered org, markets and range moves both; background merges move neither.
 */
export async function windowsFingerprint(ch: ClickHouseClient, tables: Tables, q: Omit<WindowsQuery, 'limit' | 'after'>): Promise<string> {
  const source = SOURCES[q.interval];
  const marketFilter = q.markets.length > 0 ? 'AND market IN {markets:Array(String)}' : '';
  const rs = await ch.query({
    query: `SELECT sum(trades) AS n, toUnixTimestamp64Milli(max(last_ingested_at)) AS at FROM ${tables[source.table]}
            WHERE org_id = {orgId:String} AND window_start >= {from:DateTime64(3)} AND window_start < {to:DateTime64(3)} ${marketFilter}`,
    query_params: { orgId: q.orgId, from: q.from.getTime() / 1000, to: q.to.getTime() / 1000, markets: q.markets },
    format: 'JSONEachRow',
    clickhouse_settings: { log_comment: `windowsFingerprint:${q.interval}` },
  });
  const [row] = await rs.json<{ n: string; at: string }>();
  return Number(row?.n ?? 0) === 0 ? '0:0' : `${row!.n}:${row!.at}`;
}

/** VWAP digits after the point; the division is exact in ClickHouse, then rounded half away from zero. */
export const VWAP_SCALE = 12;

/**
 * Windows of one org over a range, rolled up to `interval` from the materialized tables,
 * ordered by (timestamp, market) with keyset pagination. Values are query parameters only.
 */
export async function tradingWindows(ch: ClickHouseClient, tables: Tables, q: WindowsQuery): Promise<{ windows: TradingWindow[]; fingerprint: string | null }> {
  const source = SOURCES[q.interval];
  const marketFilter = q.markets.length > 0 ? 'AND market IN {markets:Array(String)}' : '';
  const afterFilter = q.after ? 'AND window_start >= {afterBucket:DateTime64(3)}' : '';
  const having = q.after ? 'HAVING (bucket, market) > ({afterBucket:DateTime64(3)}, {afterMarket:String})' : '';
  const query = `
    SELECT
      ${source.bucket} AS bucket,
      toUnixTimestamp(bucket) * 1000 AS bucket_ms,
      market,
      sum(w.trades) AS trades,
      sum(w.volume) AS volume,
      sum(w.buy_volume) AS buy_volume,
      sum(w.sell_volume) AS sell_volume,
      sum(w.notional) AS notional,
      sum(w.notional_usd) AS notional_usd,
      sum(w.usd_missing) AS usd_missing,
      if(sum(w.volume) = 0, NULL, toString(round(sum(w.notional) / sum(w.volume), ${VWAP_SCALE}))) AS vwap,
      argMinMerge(w.open_state) AS open,
      max(w.high) AS high,
      min(w.low) AS low,
      argMaxMerge(w.close_state) AS close,
      toUnixTimestamp64Milli(min(w.first_trade_at)) AS first_ms,
      toUnixTimestamp64Milli(max(w.last_trade_at)) AS last_ms,
      toUnixTimestamp64Milli(max(w.last_ingested_at)) AS ingested_ms,
      -- The covered range's fingerprint (see windowsFingerprint), read in the same snapshot.
      sum(sum(w.trades)) OVER () AS fp_trades,
      toUnixTimestamp64Milli(max(max(w.last_ingested_at)) OVER ()) AS fp_ingested_ms
    FROM ${tables[source.table]} AS w
    WHERE org_id = {orgId:String}
      AND window_start >= {from:DateTime64(3)} AND window_start < {to:DateTime64(3)}
      ${marketFilter}
      ${afterFilter}
    GROUP BY bucket, market
    ${having}
    ORDER BY bucket, market
    LIMIT {limit:UInt32}`;
  const rs = await ch.query({
    query,
    format: 'JSONEachRow',
    query_params: {
      orgId: q.orgId,
      from: q.from.getTime() / 1000,
      to: q.to.getTime() / 1000,
      markets: q.markets,
      limit: q.limit,
      afterBucket: q.after ? q.after.bucket.getTime() / 1000 : 0,
      afterMarket: q.after?.market ?? '',
    },
    clickhouse_settings: { log_comment: `tradingWindows:${q.interval}` },
  });
  const rows = (await rs.json<unknown>()).map((raw) => Row.parse(raw));
  // Without a cursor the query covers the whole range, so its fingerprint is the range's.
  const fingerprint = q.after ? null : rows[0] ? `${rows[0].fp_trades}:${rows[0].fp_ingested_ms}` : '0:0';
  const windows = rows.map((r) => {
    return {
      timestamp: new Date(r.bucket_ms),
      market: r.market,
      trades: r.trades,
      volume: r.volume,
      buyVolume: r.buy_volume,
      sellVolume: r.sell_volume,
      notional: r.notional,
      notionalUSD: r.notional_usd,
      usdMissingTrades: r.usd_missing,
      vwap: r.vwap,
      open: r.open,
      high: r.high,
      low: r.low,
      close: r.close,
      firstTradeAt: new Date(r.first_ms),
      lastTradeAt: new Date(r.last_ms),
      lastIngestedAt: new Date(r.ingested_ms),
    };
  });
  return { windows, fingerprint };
}
