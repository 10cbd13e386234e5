import { SchemaType, type SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Kafka, Message, Producer } from 'kafkajs';
import { TRADE_EXECUTED_V1_AVSC, TRADE_EXECUTED_V1_SUBJECT } from '../schemas/trade-executed.ts';
import type { MappedTrade } from './trade-files.ts';

export type WireFormat = 'avro' | 'json';

export interface PublishOptions {
  topic: string;
  format: WireFormat;
  /** Messages per second, or undefined for as fast as the broker takes them. */
  ratePerSec?: number;
  batchSize?: number;
  onProgress?: (sent: number) => void;
}

/** Registers `TradeExecuted` v1 under `<topic>-value` and returns its schema id. */
export async function registerTradeSchema(registry: SchemaRegistry, topic: string): Promise<number> {
  const subject = topic === 'exchange.trades.v1' ? TRADE_EXECUTED_V1_SUBJECT : `${topic}-value`;
  const { id } = await registry.register({ type: SchemaType.AVRO as const, schema: TRADE_EXECUTED_V1_AVSC }, { subject });
  return id;
}

/**
 * Publishes trades the way an upstream service would: keyed by market, Avro through the
 * registry (Confluent framing) or UTF-8 JSON, idempotent producer, acks from all replicas.
 */
export async function publishTrades(
  deps: { kafka: Kafka; registry: SchemaRegistry },
  trades: AsyncIterable<MappedTrade> | Iterable<MappedTrade>,
  opts: PublishOptions,
): Promise<{ sent: number; seconds: number }> {
  const producer: Producer = deps.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  const schemaId = opts.format === 'avro' ? await registerTradeSchema(deps.registry, opts.topic) : 0;
  const batchSize = opts.batchSize ?? 2_000;
  const started = performance.now();
  let sent = 0;
  let batch: Message[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    await producer.send({ topic: opts.topic, acks: -1, messages: batch });
    sent += batch.length;
    batch = [];
    opts.onProgress?.(sent);
    if (opts.ratePerSec) {
      const due = (sent / opts.ratePerSec) * 1000 - (performance.now() - started);
      if (due > 0) await new Promise((r) => setTimeout(r, due));
    }
  };
  try {
    const effectiveBatch = opts.ratePerSec ? Math.max(1, Math.min(batchSize, Math.ceil(opts.ratePerSec / 20))) : batchSize;
    for await (const t of trades) {
      const value =
        opts.format === 'avro'
          ? await deps.registry.encode(schemaId, t.event)
          : Buffer.from(JSON.stringify(t.event), 'utf8');
      batch.push({ key: t.key, value });
      if (batch.length >= effectiveBatch) await flush();
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
  return { sent, seconds: (performance.now() - started) / 1000 };
}
