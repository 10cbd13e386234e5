import type { ClickHouseClient } from '@clickhouse/client';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Kafka } from 'kafkajs';
import type { Tables } from '../aggregators/tables.ts';
import {
  existingEventIds,
  insertTrades,
  latestExecutions,
  ledgerOffsets,
  recordLedger,
  type TradeRow,
} from '../aggregators/trades.queries.ts';
import type { Logger } from '../infra/logger.ts';
import type { TradeExecuted } from '../schemas/trade-executed.ts';
import { runConsumer, type ConsumerSpec, type RunningConsumer } from './consumer.runner.ts';
import { createTradeDecoder } from './trades.decoder.ts';

/** `YYYY-MM-DD hh:mm:ss.mmm`, the form ClickHouse reads for DateTime64(3, 'UTC'). */
export function clickhouseTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

export function toTradeRow(e: TradeExecuted, topic: string, partition: number, offset: number, timestampMs: number): TradeRow {
  return {
    org_id: e.orgId,
    market: e.market,
    event_id: e.eventId,
    trade_id: e.tradeId,
    price: e.price,
    quantity: e.quantity,
    notional_usd: e.notionalUsd,
    side: e.side,
    executed_at: clickhouseTime(e.executedAtMs),
    src_topic: topic,
    src_partition: partition,
    src_offset: offset,
    src_timestamp: clickhouseTime(timestampMs),
    executed_at_ms: e.executedAtMs,
  };
}

/** Keeps the first row of each event id within a batch. */
export function dedupeWithinBatch(rows: TradeRow[]): TradeRow[] {
  const seen = new Set<string>();
  return rows.filter((r) => {
    const key = `${r.org_id}\u0000${r.event_id}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export interface StoredRange {
  orgId: string;
  market: string;
  fromMs: number;
  toMs: number;
}

/** The (org, market) execution-time ranges a block of rows covers. */
export function storedRanges(rows: TradeRow[]): StoredRange[] {
  const byKey = new Map<string, StoredRange>();
  for (const r of rows) {
    const k = `${r.org_id}\u0000${r.market}`;
    const range = byKey.get(k);
    if (!range) byKey.set(k, { orgId: r.org_id, market: r.market, fromMs: r.executed_at_ms, toMs: r.executed_at_ms });
    else {
      if (r.executed_at_ms < range.fromMs) range.fromMs = r.executed_at_ms;
      if (r.executed_at_ms > range.toMs) range.toMs = r.executed_at_ms;
    }
  }
  return [...byKey.values()];
}

export interface TradesConsumerDeps {
  kafka: Kafka;
  registry: SchemaRegistry;
  ch: ClickHouseClient;
  tables: Tables;
  logger: Logger;
  topic: string;
  groupId: string;
  /** The client for a partition's work; defaults to `ch`. Spreads partitions over connections. */
  clientFor?: (partition: number) => ClickHouseClient;
  partitionsConcurrently?: number;
  /** Told which org, market and execution-time range got new rows, so cached results covering them are dropped. */
  onStored?: (ranges: StoredRange[]) => void;
}

/** The trades consumer: `exchange.trades.v1` into `trades_raw_v1`, and from there into the windows. */
export function tradesConsumerSpec(deps: Omit<TradesConsumerDeps, 'kafka' | 'logger'>): ConsumerSpec<TradeRow> {
  const decode = createTradeDecoder(deps.registry);
  const clientFor = deps.clientFor ?? (() => deps.ch);
  /** Latest stored executedAt per org and market, as far as this process knows. */
  const watermarks = new Map<string, number>();
  return {
    topic: deps.topic,
    async decode(message, partition) {
      const d = await decode(message.value);
      return d.ok ? { ok: true, value: toTradeRow(d.value, deps.topic, partition, Number(message.offset), Number(message.timestamp)) } : d;
    },
    async dropDuplicates(rows, partition) {
      const unique = dedupeWithinBatch(rows);
      if (unique.length === 0) return unique;
      const ch = clientFor(partition);
      // Only a trade executed at or before the latest stored execution of its org and market
      // can repeat a stored one: an upstream retry repeats executedAt. In-order streams skip
      // the probe for nearly every row; late rows and same-millisecond rows are probed.
      const unseen = new Map<string, { orgId: string; market: string }>();
      for (const r of unique) {
        const k = `${r.org_id}\u0000${r.market}`;
        if (!watermarks.has(k)) unseen.set(k, { orgId: r.org_id, market: r.market });
      }
      if (unseen.size > 0) {
        const latest = await latestExecutions(ch, deps.tables, [...unseen.values()]);
        for (const k of unseen.keys()) watermarks.set(k, latest.get(k) ?? -Infinity);
      }
      const suspects = unique.filter((r) => r.executed_at_ms <= watermarks.get(`${r.org_id}\u0000${r.market}`)!);
      if (suspects.length === 0) return unique;
      const known = await existingEventIds(ch, deps.tables, {
        orgIds: [...new Set(suspects.map((r) => r.org_id))],
        eventIds: suspects.map((r) => r.event_id),
      });
      return known.size === 0 ? unique : unique.filter((r) => !known.has(`${r.org_id}\u0000${r.event_id}`));
    },
    insert: (rows, token, partition) => insertTrades(clientFor(partition), deps.tables, rows, token),
    loadLedger: () => ledgerOffsets(deps.ch, deps.tables, deps.groupId, deps.topic),
    recordLedger: (e) =>
      recordLedger(clientFor(e.partition), deps.tables, {
        consumerGroup: deps.groupId,
        topic: deps.topic,
        partition: e.partition,
        firstOffset: e.firstOffset,
        lastOffset: e.lastOffset,
        rowsInserted: e.rows,
        deadLetters: e.deadLetters,
        duplicates: e.duplicates,
      }),
    onStored: (rows) => {
      for (const r of rows) {
        const k = `${r.org_id}\u0000${r.market}`;
        if (r.executed_at_ms > (watermarks.get(k) ?? -Infinity)) watermarks.set(k, r.executed_at_ms);
      }
      deps.onStored?.(storedRanges(rows));
    },
    onGroupJoin: () => watermarks.clear(),
  };
}

export function startTradesConsumer(deps: TradesConsumerDeps): Promise<RunningConsumer> {
  return runConsumer({
    kafka: deps.kafka,
    groupId: deps.groupId,
    logger: deps.logger,
    spec: tradesConsumerSpec(deps),
    partitionsConcurrently: deps.partitionsConcurrently,
  });
}
