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

/** Inserts one block of raw trades. The windows follow through the materialized views. */
export async function insertTrades(ch: ClickHouseClient, tables: Tables, rows: TradeRow[], token: string): Promise<void> {
  if (rows.length === 0) return;
  await ch.insert({ table: tables.tradesRaw, values: rows, format: 'JSONEachRow', clickhouse_settings: dedupSettings(token) });
}

export interface EventIdProbe {
  orgIds: string[];
  markets: string[];
  eventIds: string[];
  fromMs: number;
  toMs: number;
}

/**
 * Which of these event ids are already stored, as `orgId \u0000 eventId` keys. The time bounds use the sort key; an upstream
 * retry repeats the same event, so its `executedAt` falls inside the probe's bounds.
 */
export async function existingEventIds(ch: ClickHouseClient, tables: Tables, p: EventIdProbe): Promise<Set<string>> {
  if (p.eventIds.length === 0) return new Set();
  const rs = await ch.query({
    query: `SELECT DISTINCT org_id, event_id FROM ${tables.tradesRaw}
            WHERE org_id IN {orgIds:Array(String)} AND market IN {markets:Array(String)}
              AND executed_at >= fromUnixTimestamp64Milli({fromMs:Int64}, 'UTC')
              AND executed_at <= fromUnixTimestamp64Milli({toMs:Int64}, 'UTC')
              AND event_id IN {eventIds:Array(String)}`,
    query_params: { ...p },
    format: 'JSONEachRow',
    clickhouse_settings: { log_comment: 'existingEventIds' },
  });
  return new Set((await rs.json<{ org_id: string; event_id: string }>()).map((r) => `${r.org_id}\u0000${r.event_id}`));
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
