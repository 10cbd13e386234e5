import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Tables } from './tables.ts';

/** A row of `trades_raw_v1`, as ingest writes it. */
export interface TradeRow {
  org_id: string;
  market: string;
  event_id: string;
  trade_id: string;
  price: string;
  quantity: string;
  notional_usd: string | null;
  side: 'BUY' | 'SELL';
  /** `YYYY-MM-DD hh:mm:ss.mmm` in UTC. */
  executed_at: string;
  src_topic: string;
  src_partition: number;
  src_offset: number;
  /** Kafka record timestamp, same form as executed_at. */
  src_timestamp: string;
  /** `executed_at` as epoch milliseconds; not a column, kept for ingest's bookkeeping. */
  executed_at_ms: number;
}

/** Settings that make a re-sent block (same token) land once in the raw table and in every window table. */
export function dedupSettings(token: string) {
  return {
    insert_deduplication_token: token,
    insert_deduplicate: 1,
    deduplicate_blocks_in_dependent_materialized_views: 1,
    log_comment: 'insertTrades',
  } as const;
}

const TRADE_COLUMNS = [
  'org_id',
  'market',
  'event_id',
  'trade_id',
  'price',
  'quantity',
  'notional_usd',
  'side',
  'executed_at',
  'src_topic',
  'src_partition',
  'src_offset',
  'src_timestamp',
] as const satisfies readonly (keyof TradeRow)[];

/** TabSeparated escaping; validated ids are printable ASCII, so only backslashes need care in practice. */
function tsvField(v: string | number | null): string {
  if (v === null) return '\\N';
  const s = String(v);
  return /[\\\t\n\r]/.test(s) ? s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : s;
}

/** Rows as one TabSeparated block: about three times cheaper for ClickHouse to parse than JSONEachRow. */
export function tradesTsv(rows: TradeRow[]): Buffer {
  let out = '';
  for (const r of rows) {
    out += `${tsvField(r.org_id)}\t${tsvField(r.market)}\t${tsvField(r.event_id)}\t${tsvField(r.trade_id)}\t${r.price}\t${r.quantity}\t${tsvField(r.notional_usd)}\t${r.side}\t${r.executed_at}\t${tsvField(r.src_topic)}\t${r.src_partition}\t${r.src_offset}\t${r.src_timestamp}\n`;
  }
  return Buffer.from(out, 'utf8');
}

/** Inserts one block of raw trades. The windows follow through the materialized views. */
export async function insertTrades(ch: ClickHouseClient, tables: Tables, rows: TradeRow[], token: string): Promise<void> {
  if (rows.length === 0) return;
  await ch.insert({
    table: tables.tradesRaw,
    values: Readable.from([tradesTsv(rows)], { objectMode: false }),
    format: 'TabSeparated',
    columns: [...TRADE_COLUMNS],
    clickhouse_settings: dedupSettings(token),
  });
}

export interface EventIdProbe {
  orgIds: string[];
  eventIds: string[];
}

/**
 * Which of these event ids are already stored, as `orgId \u0000 eventId` keys. Reads the
 * (org, event id) index table through its primary key; the ids go through a subquery because,
 * as a literal set, chDB 26.7 spent seconds per part analysing it.
 */
export async function existingEventIds(ch: ClickHouseClient, tables: Tables, p: EventIdProbe): Promise<Set<string>> {
  if (p.eventIds.length === 0) return new Set();
  const rs = await ch.query({
    query: `SELECT DISTINCT org_id, event_id FROM ${tables.tradeEventIds}
            WHERE org_id IN {orgIds:Array(String)}
              AND event_id IN (SELECT arrayJoin({eventIds:Array(String)}))`,
    query_params: { ...p },
    format: 'JSONEachRow',
    clickhouse_settings: { log_comment: 'existingEventIds' },
  });
  return new Set((await rs.json<{ org_id: string; event_id: string }>()).map((r) => `${r.org_id}\u0000${r.event_id}`));
}

/** The latest stored execution time (epoch ms) per `orgId \u0000 market`, for the pairs asked. */
export async function latestExecutions(
  ch: ClickHouseClient,
  tables: Tables,
  pairs: { orgId: string; market: string }[],
): Promise<Map<string, number>> {
  if (pairs.length === 0) return new Map();
  const rs = await ch.query({
    query: `SELECT org_id, market, toUnixTimestamp64Milli(max(executed_at)) AS ms FROM ${tables.tradesRaw}
            WHERE (org_id, market) IN (SELECT tupleElement(p, 1), tupleElement(p, 2) FROM (SELECT arrayJoin(arrayZip({orgs:Array(String)}, {markets:Array(String)})) AS p))
            GROUP BY org_id, market`,
    query_params: { orgs: pairs.map((p) => p.orgId), markets: pairs.map((p) => p.market) },
    format: 'JSONEachRow',
    clickhouse_settings: { log_comment: 'latestExecutions' },
  });
  const rows = await rs.json<{ org_id: string; market: string; ms: string }>();
  return new Map(rows.map((r) => [`${r.org_id}\u0000${r.market}`, Number(r.ms)]));
}

export interface LedgerEntry {
  consumerGroup: string;
  topic: string;
  partition: number;
  firstOffset: number;
  lastOffset: number;
  rowsInserted: number;
  deadLetters: number;
  duplicates: number;
}

/** The last offset per partition whose outcome (row, duplicate or dead letter) is recorded. */
export async function ledgerOffsets(
  ch: ClickHouseClient,
  tables: Tables,
  consumerGroup: string,
  topic: string,
): Promise<Map<number, number>> {
  const rs = await ch.query({
    query: `SELECT partition, max(last_offset) AS last_offset FROM ${tables.ingestLedger}
            WHERE consumer_group = {consumerGroup:String} AND topic = {topic:String} GROUP BY partition`,
    query_params: { consumerGroup, topic },
    format: 'JSONEachRow',
    clickhouse_settings: { log_comment: 'ledgerOffsets' },
  });
  const rows = await rs.json<{ partition: number; last_offset: string }>();
  return new Map(rows.map((r) => [Number(r.partition), Number(r.last_offset)]));
}

export async function recordLedger(ch: ClickHouseClient, tables: Tables, e: LedgerEntry): Promise<void> {
  await ch.insert({
    table: tables.ingestLedger,
    format: 'JSONEachRow',
    values: [
      {
        consumer_group: e.consumerGroup,
        topic: e.topic,
        partition: e.partition,
        first_offset: e.firstOffset,
        last_offset: e.lastOffset,
        rows_inserted: e.rowsInserted,
        dead_letters: e.deadLetters,
        duplicates: e.duplicates,
      },
    ],
    clickhouse_settings: { log_comment: 'recordLedger' },
  });
}
