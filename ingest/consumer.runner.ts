import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Logger } from '../infra/logger.ts';
import type { Decoded } from './trades.decoder.ts';

/** What a consumer is: a topic, a decoder, how to drop already-stored rows, and how to insert. */
export interface ConsumerSpec<Row> {
  topic: string;
  /** Decodes one message; never throws for bad input (only for retriable trouble). */
  decode(message: KafkaMessage, partition: number): Promise<Decoded<Row>>;
  /** Removes rows whose dedup key is already stored or repeated within the batch. */
  dropDuplicates(rows: Row[], partition: number): Promise<Row[]>;
  /** Inserts one block; `token` is a pure function of the partition and offset range. */
  insert(rows: Row[], token: string, partition: number): Promise<void>;
  /** Last offset per partition already accounted for in storage. */
  loadLedger(): Promise<Map<number, number>>;
  recordLedger(entry: { partition: number; firstOffset: number; lastOffset: number; rows: number; deadLetters: number; duplicates: number }): Promise<void>;
  /** Called after rows are stored, e.g. to invalidate cached query results. */
  onStored?(rows: Row[]): void;
  /** Called when the group (re)assigns partitions: state about partitions must be reloaded. */
  onGroupJoin?(): void;
}

export interface ConsumerStats {
  messages: number;
  rowsInserted: number;
  deadLetters: number;
  duplicates: number;
  skippedReplayed: number;
  batches: number;
  /** Milliseconds spent per stage, summed over batches: where ingest time goes. */
  stageMs: { decode: number; dedupe: number; insert: number; deadLetter: number; ledger: number; commit: number };
}

export interface RunningConsumer {
  stats: ConsumerStats;
  /** Leaves the group after the in-flight batch finishes. */
  stop(): Promise<void>;
}

const STOP_TIMEOUT_MS = 8_000;

export const dlqTopicOf = (topic: string) => `${topic}.dlq`;

/**
 * Runs a consumer spec in a kafkajs consumer group with exactly-once effects in ClickHouse:
 * per batch it skips offsets the ledger already covers, decodes, dead-letters poison, drops
 * known event ids, inserts one block under a deterministic dedup token, records the ledger,
 * and only then commits the Kafka offset. A crash at any step replays into a no-op.
 */
export async function runConsumer<Row>(deps: {
  kafka: Kafka;
  groupId: string;
  spec: ConsumerSpec<Row>;
  logger: Logger;
  fromBeginning?: boolean;
  /** Partitions processed at once; their decoding overlaps the others' ClickHouse work. */
  partitionsConcurrently?: number;
}): Promise<RunningConsumer> {
  const { spec } = deps;
  const log = deps.logger.child({ module: 'consumer', topic: spec.topic, groupId: deps.groupId });
  const stats: ConsumerStats = { messages: 0, rowsInserted: 0, deadLetters: 0, duplicates: 0, skippedReplayed: 0, batches: 0, stageMs: { decode: 0, dedupe: 0, insert: 0, deadLetter: 0, ledger: 0, commit: 0 } };
  const consumer: Consumer = deps.kafka.consumer({
    groupId: deps.groupId,
    // Short enough that a crashed member's partitions move on within seconds; batches take ~1 s.
    sessionTimeout: 10_000,
    rebalanceTimeout: 60_000,
    heartbeatInterval: 3_000,
    maxBytesPerPartition: 8 * 1024 * 1024,
    maxBytes: 48 * 1024 * 1024,
    maxWaitTimeInMs: 50,
    retry: { retries: 10, initialRetryTime: 300 },
  });
  const producer: Producer = deps.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  let ledger: Map<number, number> | null = null;

  /**
   * The ledger, trusted only where Kafka still knows the group's position. A topic deleted and
   * created again (or a group reset) starts its offsets over; a ledger entry kept from before
   * would then skip new messages. Without a committed offset the partition is consumed from
   * its start, and event-id deduplication alone keeps every trade counted once.
   */
  const loadLedger = async (): Promise<Map<number, number>> => {
    const recorded = await spec.loadLedger();
    if (recorded.size === 0) return recorded;
    const admin = deps.kafka.admin();
    await admin.connect();
    try {
      const [committed] = await admin.fetchOffsets({ groupId: deps.groupId, topics: [spec.topic] });
      for (const p of committed?.partitions ?? []) {
        if (Number(p.offset) < 0 && recorded.has(p.partition)) {
          log.warn({ partition: p.partition, ledgerOffset: recorded.get(p.partition) }, 'Kafka has no committed offset for this partition: ledger entry ignored, relying on event-id deduplication');
          recorded.delete(p.partition);
        }
      }
    } finally {
      await admin.disconnect();
    }
    return recorded;
  };

  // Another member may have advanced a partition while we did not own it: reload after each join.
  consumer.on(consumer.events.GROUP_JOIN, () => {
    ledger = null;
    spec.onGroupJoin?.();
  });

  consumer.on(consumer.events.CRASH, ({ payload }) => {
    log.error({ err: payload.error, restart: payload.restart }, 'consumer crashed; kafkajs restarts it and the ledger makes the replay a no-op');
  });

  const handleBatch = async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload) => {
    if (batch.messages.length === 0 || !isRunning() || isStale()) return;
    const known = (ledger ??= await loadLedger());
    const partition = batch.partition;
    let recorded = known.get(partition) ?? -1;
    if (recorded >= Number(batch.highWatermark)) {
      // The log ends before what the ledger says was stored: the topic was recreated or truncated.
      log.error({ partition, ledgerOffset: recorded, highWatermark: batch.highWatermark }, 'ledger is ahead of the topic: topic recreated? ledger entry ignored, relying on event-id deduplication');
      known.delete(partition);
      recorded = -1;
    }
    const fresh = batch.messages.filter((m) => Number(m.offset) > recorded);
    stats.skippedReplayed += batch.messages.length - fresh.length;
    const lastOffset = Number(batch.lastOffset());
    if (fresh.length === 0) {
      resolveOffset(batch.lastOffset());
      await commitOffsetsIfNecessary();
      return;
    }
    const firstOffset = Number(fresh[0]!.offset);
    let mark = performance.now();
    const lap = (stage: keyof ConsumerStats['stageMs']) => {
      const now = performance.now();
      stats.stageMs[stage] += now - mark;
      mark = now;
    };
    const rows: Row[] = [];
    const dead: { message: KafkaMessage; reason: string }[] = [];
    for (const message of fresh) {
      const decoded = await spec.decode(message, partition);
      if (decoded.ok) rows.push(decoded.value);
      else dead.push({ message, reason: decoded.reason });
    }
    lap('decode');
    const unique = await spec.dropDuplicates(rows, partition);
    lap('dedupe');
    const token = `${deps.groupId}:${spec.topic}:${partition}:${firstOffset}-${lastOffset}`;
    await spec.insert(unique, token, partition);
    lap('insert');
    await heartbeat();
    if (dead.length > 0) {
      await producer.send({
        topic: dlqTopicOf(spec.topic),
        acks: -1,
        messages: dead.map(({ message, reason }) => ({
          key: message.key,
          value: message.value,
          headers: {
            ...message.headers,
            'dlq-reason': reason,
            'dlq-topic': spec.topic,
            'dlq-partition': String(partition),
            'dlq-offset': message.offset,
            'dlq-timestamp': message.timestamp,
          },
        })),
      });
      log.warn({ partition, count: dead.length, firstReason: dead[0]?.reason }, 'poison messages sent to the dead-letter topic');
    }
    lap('deadLetter');
    await spec.recordLedger({
      partition,
      firstOffset,
      lastOffset,
      rows: unique.length,
      deadLetters: dead.length,
      duplicates: rows.length - unique.length,
    });
    known.set(partition, lastOffset);
    lap('ledger');
    if (unique.length > 0) spec.onStored?.(unique);
    stats.messages += fresh.length;
    stats.rowsInserted += unique.length;
    stats.deadLetters += dead.length;
    stats.duplicates += rows.length - unique.length;
    stats.batches++;
    resolveOffset(batch.lastOffset());
    await commitOffsetsIfNecessary();
    lap('commit');
    log.debug({ partition, firstOffset, lastOffset, rows: unique.length }, 'batch stored');
  };

  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topics: [spec.topic], fromBeginning: deps.fromBeginning ?? true });
  await consumer.run({ eachBatchAutoResolve: false, autoCommit: true, partitionsConsumedConcurrently: deps.partitionsConcurrently ?? 3, eachBatch: handleBatch });
  log.info('consumer started');

  return {
    stats,
    async stop() {
      // An unreachable broker must not hold the rest of the shutdown hostage.
      const bounded = (p: Promise<void>, what: string) =>
        Promise.race([p, new Promise<void>((resolve) => setTimeout(() => {
          log.warn(`${what} did not finish within ${STOP_TIMEOUT_MS} ms; going on`);
          resolve();
        }, STOP_TIMEOUT_MS).unref())]);
      await bounded(consumer.disconnect(), 'leaving the consumer group');
      await bounded(producer.disconnect(), 'closing the dead-letter producer');
      log.info(stats, 'consumer stopped');
    },
  };
}
