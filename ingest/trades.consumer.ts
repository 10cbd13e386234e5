import type { ClickHouseClient } from '@clickhouse/client';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Kafka } from 'kafkajs';
import type { Tables } from '../aggregators/tables.ts';
import {
  existingEventIds,
  insertTrades,
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

export interface TradesConsumerDeps {
  kafka: Kafka;
  registry: SchemaRegistry;
  ch: ClickHouseClient;
  tables: Tables;
  logger: Logger;
  topic: string;
  groupId: string;
  /** Told which orgs got new rows, so cached query results are dropped at once. */
  onOrgsChanged?: (orgIds: Set<string>) => void;
}

/** The trades consumer: `exchange.trades.v1` into `trades_raw_v1`, and from there into the windows. */
export function tradesConsumerSpec(deps: Omit<TradesConsumerDeps, 'kafka' | 'logger'>): ConsumerSpec<TradeRow> {
  const decode = createTradeDecoder(deps.registry);
  return {
    topic: deps.topic,
    async decode(message, partition) {
      const d = await decode(message.value);
      return d.ok ? { ok: true, value: toTradeRow(d.value, deps.topic, partition, Number(message.offset), Number(message.timestamp)) } : d;
    },
    async dropDuplicates(rows) {
      const unique = dedupeWithinBatch(rows);
      if (unique.length === 0) return unique;
      let fromMs = Infinity;
      let toMs = -Infinity;
      for (const r of unique) {
        const ms = Date.parse(`${r.executed_at.replace(' ', 'T')}Z`);
        if (ms < fromMs) fromMs = ms;
        if (ms > toMs) toMs = ms;
      }
      const known = await existingEventIds(deps.ch, deps.tables, {
        orgIds: [...new Set(unique.map((r) => r.org_id))],
        markets: [...new Set(unique.map((r) => r.market))],
        eventIds: unique.map((r) => r.event_id),
        fromMs,
        toMs,
      });
      return known.size === 0 ? unique : unique.filter((r) => !known.has(`${r.org_id}\u0000${r.event_id}`));
    },
    insert: (rows, token) => insertTrades(deps.ch, deps.tables, rows, token),
    loadLedger: () => ledgerOffsets(deps.ch, deps.tables, deps.groupId, deps.topic),
    recordLedger: (e) =>
      recordLedger(deps.ch, deps.tables, {
        consumerGroup: deps.groupId,
        topic: deps.topic,
        partition: e.partition,
        firstOffset: e.firstOffset,
        lastOffset: e.lastOffset,
        rowsInserted: e.rows,
        deadLetters: e.deadLetters,
        duplicates: e.duplicates,
      }),
    onStored: (rows) => deps.onOrgsChanged?.(new Set(rows.map((r) => r.org_id))),
  };
}

export function startTradesConsumer(deps: TradesConsumerDeps): Promise<RunningConsumer> {
  return runConsumer({ kafka: deps.kafka, groupId: deps.groupId, logger: deps.logger, spec: tradesConsumerSpec(deps) });
}
