/**
 * Ingest benchmark on real trades (LEAN US-equity ticks and Binance trades):
 *  1. consume throughput: a topic pre-filled with N events, drained into ClickHouse (Avro and JSON);
 *  2. end to end: publish N events at full speed while the consumer runs; first send to last row stored;
 *  3. produce-to-queryable lag at a steady rate, p50/p99, read from the window table the API serves.
 *   npm run bench:ingest -- [--trades 300000] [--runs 3] [--rate 5000] [--seconds 20]
 */
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migrate } from '../aggregators/migrate.ts';
import { tablesFor } from '../aggregators/tables.ts';
import { createClickHouse } from '../infra/clickhouse.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadConfig, REPO_ROOT, type Config } from '../infra/config.ts';
import { createKafka, ensureTopics, type Kafka } from '../infra/kafka.ts';
import { upLocalStack } from '../infra/local/stack.ts';
import { createLogger } from '../infra/logger.ts';
import { createSchemaRegistry, type SchemaRegistry } from '../infra/schema-registry.ts';
import { startTradesConsumer } from '../ingest/trades.consumer.ts';
import { machineLine, median, percentile, writeSection } from './bench-report.ts';
import { BINANCE_FILE, LEAN_FILE, tradeEvents, type MappedTrade } from './trade-files.ts';
import { publishTrades, type WireFormat } from './trade-publisher.ts';

const execFileAsync = promisify(execFile);
const say = (m: string) => process.stderr.write(`[bench:ingest] ${m}\n`);
const logger = createLogger({ LOG_LEVEL: 'error' });
const PARTITIONS = 6;

/** Real trades of nine markets: the whole Binance file, then the LEAN equity ticks of 2013-10-08. */
async function loadTrades(n: number, runId: string): Promise<MappedTrade[]> {
  const out: MappedTrade[] = [];
  const orgs = ['BENCH_A', 'BENCH_B', 'BENCH_C'];
  for await (const t of tradeEvents(BINANCE_FILE, { orgs, limit: n, runId })) out.push(t);
  const lean = tradeEvents(LEAN_FILE, { orgs, limit: n - out.length, runId, filter: (r) => r.trade_date_et === '20131008' });
  for await (const t of lean) out.push(t);
  if (out.length < n) throw new Error(`only ${out.length} trades in the sample; ask for at most that many`);
  return out;
}

/** Runs the publisher in its own process, as an upstream service would be. */
async function publishFromOtherProcess(env: Env, trades: MappedTrade[], format: WireFormat, config: Config): Promise<{ sent: number; seconds: number }> {
  const file = path.join(os.tmpdir(), `bench-events-${randomBytes(3).toString('hex')}.jsonl`);
  fs.writeFileSync(file, trades.map((t) => JSON.stringify(t)).join('\n'));
  try {
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', 'bench-producer.ts'), file, env.topic, format], {
      env: { ...process.env, KAFKA_BROKERS: config.KAFKA_BROKERS.join(','), SCHEMA_REGISTRY_URL: config.SCHEMA_REGISTRY_URL },
      maxBuffer: 1 << 20,
    });
    return JSON.parse(stdout.trim().split('\n').pop()!) as { sent: number; seconds: number };
  } finally {
    fs.rmSync(file, { force: true });
  }
}

interface Env {
  kafka: Kafka;
  registry: SchemaRegistry;
  topic: string;
}

async function freshTopic(kafka: Kafka, registry: SchemaRegistry, label: string): Promise<Env> {
  const topic = `bench.${label}.${randomBytes(3).toString('hex')}.v1`;
  await ensureTopics(kafka, [
    { topic, numPartitions: PARTITIONS },
    { topic: `${topic}.dlq`, numPartitions: 1 },
  ]);
  return { kafka, registry, topic };
}

/** Starts a consumer on a fresh embedded ClickHouse; resolves with helpers to watch it. */
async function startIngest(env: Env) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-ingest-'));
  const ch = createClickHouse({ DATA_DIR: dataDir, CLICKHOUSE_DATABASE: 'analytics', CLICKHOUSE_URL: undefined, CLICKHOUSE_USER: '', CLICKHOUSE_PASSWORD: '' });
  await migrate(ch.client, 'analytics', logger);
  const tables = tablesFor('analytics');
  const consumer = await startTradesConsumer({
    kafka: env.kafka,
    registry: env.registry,
    ch: ch.client,
    tables,
    logger,
    topic: env.topic,
    groupId: `bench-${randomBytes(3).toString('hex')}`,
    clientFor: () => ch.pick(),
  });
  const windowTrades = async () => {
    const rs = await ch.client.query({ query: `SELECT sum(trades) AS n FROM ${tables.trades1m}`, format: 'JSONEachRow' });
    return Number((await rs.json<{ n: string }>())[0]?.n ?? 0);
  };
  return {
    consumer,
    windowTrades,
    async stop() {
      await consumer.stop();
      await ch.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, pollMs = 10): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

async function consumeThroughput(base: Omit<Env, 'topic'>, trades: MappedTrade[], format: WireFormat) {
  const env = await freshTopic(base.kafka, base.registry, `drain-${format}`);
  const prod = await publishTrades(env, trades, { topic: env.topic, format });
  const started = performance.now();
  const ingest = await startIngest(env);
  await waitFor(() => ingest.consumer.stats.rowsInserted >= trades.length, 600_000);
  const seconds = (performance.now() - started) / 1000;
  const s = ingest.consumer.stats;
  say(`  ${format}: ${s.batches} batches, ms per stage ${JSON.stringify(Object.fromEntries(Object.entries(s.stageMs).map(([k, v]) => [k, Math.round(v)])))} in ${seconds.toFixed(1)} s`);
  const stored = await ingest.windowTrades();
  await ingest.stop();
  if (stored !== trades.length) throw new Error(`stored ${stored} of ${trades.length}`);
  return { producePerSec: trades.length / prod.seconds, consumePerSec: trades.length / seconds };
}

async function endToEnd(base: Omit<Env, 'topic'>, trades: MappedTrade[], format: WireFormat, config: Config) {
  const env = await freshTopic(base.kafka, base.registry, `e2e-${format}`);
  const ingest = await startIngest(env);
  const started = performance.now();
  await publishFromOtherProcess(env, trades, format, config);
  await waitFor(() => ingest.consumer.stats.rowsInserted >= trades.length, 600_000);
  const seconds = (performance.now() - started) / 1000;
  await ingest.stop();
  return trades.length / seconds;
}

/** Publishes at a steady rate in small batches and records when each batch becomes queryable. */
async function lag(base: Omit<Env, 'topic'>, trades: MappedTrade[], ratePerSec: number, seconds: number) {
  const env = await freshTopic(base.kafka, base.registry, 'lag');
  const ingest = await startIngest(env);
  const batchEveryMs = 50;
  const perBatch = Math.max(1, Math.round((ratePerSec * batchEveryMs) / 1000));
  const batches = Math.min(Math.floor(trades.length / perBatch), Math.round((seconds * 1000) / batchEveryMs));
  const sentAt: number[] = [];
  const visibleAt: number[] = [];
  let stored = 0;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      stored = await ingest.windowTrades();
      const now = performance.now();
      for (let b = visibleAt.length; b < sentAt.length && stored >= (b + 1) * perBatch; b++) visibleAt.push(now);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const producer = env.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const started = performance.now();
  for (let b = 0; b < batches; b++) {
    const due = started + b * batchEveryMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const slice = trades.slice(b * perBatch, (b + 1) * perBatch);
    const t = performance.now();
    await producer.send({ topic: env.topic, acks: -1, messages: slice.map((m) => ({ key: m.key, value: Buffer.from(JSON.stringify(m.event)) })) });
    sentAt.push(t);
  }
  await producer.disconnect();
  await waitFor(() => visibleAt.length >= batches, 60_000);
  polling = false;
  await poller;
  await ingest.stop();
  const lags = sentAt.map((t, i) => visibleAt[i]! - t).sort((a, b) => a - b);
  return { p50: percentile(lags, 50), p99: percentile(lags, 99), max: lags[lags.length - 1]!, batches, perBatch };
}

async function main() {
  const { values } = parseArgs({
    options: {
      trades: { type: 'string', default: '300000' },
      runs: { type: 'string', default: '3' },
      rate: { type: 'string', default: '5000' },
      seconds: { type: 'string', default: '20' },
    },
  });
  const n = Number(values.trades);
  const runs = Number(values.runs);
  const stack = process.env.KAFKA_BROKERS && process.env.SCHEMA_REGISTRY_URL ? null : await upLocalStack({ log: say });
  const config = loadConfig({
    ...process.env,
    ROLE: 'ingest',
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? stack!.kafkaBrokers,
    SCHEMA_REGISTRY_URL: process.env.SCHEMA_REGISTRY_URL ?? stack!.schemaRegistryUrl,
  });
  const base = { kafka: createKafka(config, logger), registry: createSchemaRegistry(config) };
  say(`loading ${n.toLocaleString('en-US')} real trades from ${path.basename(LEAN_FILE)}...`);
  const results: Record<string, number[]> = {};
  const add = (k: string, v: number) => (results[k] ??= []).push(v);
  for (let run = 1; run <= runs; run++) {
    const trades = await loadTrades(n, `r${run}${randomBytes(2).toString('hex')}-`);
    for (const format of ['avro', 'json'] as const) {
      const c = await consumeThroughput(base, trades, format);
      add(`produce-${format}`, c.producePerSec);
      add(`consume-${format}`, c.consumePerSec);
      const e = await endToEnd(base, trades, format, config);
      add(`e2e-${format}`, e);
      say(`run ${run} ${format}: consume ${Math.round(c.consumePerSec)}/s, end to end ${Math.round(e)}/s, produce ${Math.round(c.producePerSec)}/s`);
    }
  }
  const lagTrades = await loadTrades(Math.min(300_000, Number(values.rate) * Number(values.seconds)), `lag${randomBytes(2).toString('hex')}-`);
  const l = await lag(base, lagTrades, Number(values.rate), Number(values.seconds));
  say(`lag at ${values.rate}/s: p50 ${l.p50.toFixed(0)} ms, p99 ${l.p99.toFixed(0)} ms, max ${l.max.toFixed(0)} ms over ${l.batches} batches`);

  const fmt = (k: string) => `${Math.round(median(results[k]!)).toLocaleString('en-US')} (${results[k]!.map((x) => Math.round(x).toLocaleString('en-US')).join(' / ')})`;
  const md = `## Ingest (\`npm run bench:ingest -- --trades ${n} --runs ${runs} --rate ${values.rate} --seconds ${values.seconds}\`)

Measured ${new Date().toISOString().slice(0, 16)}Z on ${machineLine()}. Kafka 4 (native, single node, ${PARTITIONS} partitions), Apicurio Registry, embedded chDB; producer, consumer and ClickHouse share the machine's two cores. Data: ${n.toLocaleString('en-US')} real trades of nine markets (the whole Binance file: BTC and ETH spot, USD-M and COIN-M perpetuals; then LEAN US-equity ticks of AIG, BAC and IBM on 2013-10-08), across three orgs; the end-to-end publisher runs in its own process, as upstream services do. Median of ${runs} runs, each run's figure in brackets.

| measure (events/s into ClickHouse) | Avro (registry) | JSON |
| --- | ---: | ---: |
| consume: pre-filled topic drained into raw + 1m/1h/1d windows | ${fmt('consume-avro')} | ${fmt('consume-json')} |
| end to end: publish at full speed while consuming, first send to last row stored | ${fmt('e2e-avro')} | ${fmt('e2e-json')} |
| producer alone (replay tool's publisher, acks=all, idempotent) | ${fmt('produce-avro')} | ${fmt('produce-json')} |

Produce-to-queryable lag at a steady ${Number(values.rate).toLocaleString('en-US')} trades/s for ${values.seconds} s (JSON, ${l.batches} batches of ${l.perBatch}; time from the batch's send to its trades counted in the 1-minute window table the API reads, polled every 10 ms): **p50 ${l.p50.toFixed(0)} ms, p99 ${l.p99.toFixed(0)} ms**, max ${l.max.toFixed(0)} ms.
`;
  writeSection('ingest', md);
  process.stdout.write(`${md}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
