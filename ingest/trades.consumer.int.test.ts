import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { migrate } from '../aggregators/migrate.ts';
import { tablesFor } from '../aggregators/tables.ts';
import { createClickHouse, type ClickHouseHandle } from '../infra/clickhouse.ts';
import { createKafka, ensureTopics } from '../infra/kafka.ts';
import { createLogger } from '../infra/logger.ts';
import { createSchemaRegistry, type SchemaRegistry } from '../infra/schema-registry.ts';
import { registerTradeSchema } from '../scripts/trade-publisher.ts';
import { testConfig, uniq } from '../test/helpers.ts';
import { dlqTopicOf, type RunningConsumer } from './consumer.runner.ts';
import { startTradesConsumer } from './trades.consumer.ts';

/**
 * Poison messages against the real Kafka, registry and ClickHouse: each kind lands on the
 * dead-letter topic with its reason and source coordinates, and the partition keeps flowing.
 */
const logger = createLogger({ LOG_LEVEL: 'silent' });
const tables = tablesFor('analytics');
let ch: ClickHouseHandle;
let kafka: Kafka;
let registry: SchemaRegistry;
let consumer: RunningConsumer;
let topic: string;
const org = uniq('orgDLQ');

const trade = (n: number) => ({
  eventId: `${org}-ev-${n}`,
  orgId: org,
  market: 'ETH-USDT',
  tradeId: String(1_000 + n),
  price: '2680.11',
  quantity: '0.5',
  side: 'BUY',
  executedAt: '2024-08-08T23:54:15.611Z',
});

beforeAll(async () => {
  const config = testConfig({ TRADES_TOPIC_PARTITIONS: '1' });
  topic = config.TRADES_TOPIC;
  ch = createClickHouse(config);
  await migrate(ch.client, 'analytics', logger);
  kafka = createKafka(config, logger);
  registry = createSchemaRegistry(config);
  await ensureTopics(kafka, [
    { topic, numPartitions: 1 },
    { topic: dlqTopicOf(topic), numPartitions: 1 },
  ]);
  consumer = await startTradesConsumer({ kafka, registry, ch: ch.client, tables, logger, topic, groupId: config.KAFKA_GROUP_ID });
});

afterAll(async () => {
  await consumer?.stop();
  await ch?.close();
});

async function storedTrades(): Promise<number> {
  const rs = await ch.client.query({
    query: `SELECT count() AS n FROM ${tables.tradesRaw} WHERE org_id = {org:String}`,
    query_params: { org },
    format: 'JSONEachRow',
  });
  return Number((await rs.json<{ n: string }>())[0]!.n);
}

describe('trades consumer', () => {
  it('dead-letters every poison kind with its reason while the good trades around them are stored', async () => {
    const schemaId = await registerTradeSchema(registry, topic);
    const avro = await registry.encode(schemaId, trade(2));
    const unknownSchema = Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0]), avro.subarray(5)]);
    const poison: [string, Buffer][] = [
      ['invalid JSON', Buffer.from('{"eventId":')],
      ['unknown schema id', unknownSchema],
      ['unknown encoding: first byte 0x02', Buffer.concat([Buffer.from([2]), avro.subarray(1)])],
      ['eventId', Buffer.from(JSON.stringify({ ...trade(3), eventId: undefined }))],
      ['quantity must be > 0', Buffer.from(JSON.stringify({ ...trade(4), quantity: '0' }))],
      ['price must be a decimal string', Buffer.from(JSON.stringify({ ...trade(5), price: '12,5' }))],
      ['side must be BUY or SELL', Buffer.from(JSON.stringify({ ...trade(6), side: 'LONG' }))],
      ['executedAt', Buffer.from(JSON.stringify({ ...trade(7), executedAt: 'not-a-time' }))],
      ['Avro decoding failed', Buffer.concat([avro.subarray(0, 5), Buffer.from([0xff, 0xff, 0xff])])],
    ];
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: [
        { key: 'ETH-USDT', value: Buffer.from(JSON.stringify(trade(1))) },
        ...poison.map(([, value]) => ({ key: 'ETH-USDT', value })),
        { key: 'ETH-USDT', value: avro },
        // An upstream retry of trade 1 at a new offset counts once.
        { key: 'ETH-USDT', value: Buffer.from(JSON.stringify(trade(1))) },
        { key: 'ETH-USDT', value: Buffer.from(JSON.stringify(trade(8))) },
      ],
    });
    await producer.disconnect();

    // Rows are queryable as soon as they are inserted; the batch's dead letters and ledger follow.
    await vi.waitFor(
      async () => {
        expect(await storedTrades()).toBe(3);
        expect(consumer.stats.messages).toBe(poison.length + 4);
      },
      { timeout: 30_000, interval: 200 },
    );
    expect(consumer.stats.deadLetters).toBe(poison.length);
    expect(consumer.stats.duplicates).toBe(1);

    const dlq = kafka.consumer({ groupId: uniq('dlq-reader') });
    await dlq.connect();
    await dlq.subscribe({ topics: [dlqTopicOf(topic)], fromBeginning: true });
    const seen: { reason: string; offset: string; value: Buffer | null; sourceTopic: string }[] = [];
    await dlq.run({
      eachMessage: async ({ message }) => {
        seen.push({
          reason: String(message.headers?.['dlq-reason']),
          offset: String(message.headers?.['dlq-offset']),
          sourceTopic: String(message.headers?.['dlq-topic']),
          value: message.value,
        });
      },
    });
    await vi.waitFor(() => expect(seen.length).toBe(poison.length), { timeout: 30_000, interval: 200 });
    await dlq.disconnect();
    poison.forEach(([reason, bytes], i) => {
      expect(seen[i]!.reason).toContain(reason);
      expect(seen[i]!.offset).toBe(String(i + 1));
      expect(seen[i]!.sourceTopic).toBe(topic);
      expect(Buffer.compare(seen[i]!.value!, bytes)).toBe(0);
    });
  });

  it('stores the trades of a topic deleted and created again, though its offsets start over', async () => {
    const t2 = `${uniq('recreated')}.v1`;
    const group = uniq('group');
    const org2 = uniq('orgRe');
    const ev = (n: number, run: string) => Buffer.from(JSON.stringify({ ...trade(n), orgId: org2, eventId: `${run}-${n}` }));
    const count = async () => {
      const rs = await ch.client.query({ query: `SELECT count() AS n FROM ${tables.tradesRaw} WHERE org_id = {org:String}`, query_params: { org: org2 }, format: 'JSONEachRow' });
      return Number((await rs.json<{ n: string }>())[0]!.n);
    };
    const produce = async (values: Buffer[]) => {
      const p = kafka.producer();
      await p.connect();
      await p.send({ topic: t2, messages: values.map((value) => ({ key: 'ETH-USDT', value })) });
      await p.disconnect();
    };
    const start = () => startTradesConsumer({ kafka, registry, ch: ch.client, tables, logger, topic: t2, groupId: group });

    await ensureTopics(kafka, [{ topic: t2, numPartitions: 1 }, { topic: dlqTopicOf(t2), numPartitions: 1 }]);
    await produce(Array.from({ length: 20 }, (_, i) => ev(i, 'first')));
    let c = await start();
    await vi.waitFor(async () => expect(await count()).toBe(20), { timeout: 30_000, interval: 200 });
    await c.stop();

    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [t2] });
    await vi.waitFor(async () => expect(await admin.listTopics()).not.toContain(t2), { timeout: 30_000, interval: 200 });
    await admin.disconnect();
    await ensureTopics(kafka, [{ topic: t2, numPartitions: 1 }]);
    // Five new trades at offsets 0-4, below the ledger's 19, and one repeat of an old trade.
    await produce([...Array.from({ length: 5 }, (_, i) => ev(i, 'second')), ev(3, 'first')]);
    c = await start();
    try {
      await vi.waitFor(async () => expect(await count()).toBe(25), { timeout: 60_000, interval: 200 });
      await vi.waitFor(() => expect(c.stats.duplicates).toBe(1), { timeout: 10_000 });
    } finally {
      await c.stop();
    }
  });
});
