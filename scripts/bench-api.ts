/**
 * API benchmark on real trades: loads the whole LEAN US-equity file (906,352 ticks, five days,
 * AIG/BAC/IBM) and the Binance file through Kafka into a service running as its own process,
 * then drives it with autocannon at 50 connections:
 *   - a dashboard-like mix: a few dozen distinct queries polled over and over (cache and coalescing at work);
 *   - a 1-day 1m query and a 90-day 1d query, each repeated (cached) and all-distinct (every request misses).
 *   npm run bench:api -- [--connections 50] [--seconds 10] [--runs 3]
 */
import { parseArgs } from 'node:util';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { loadConfig, REPO_ROOT } from '../infra/config.ts';
import { createKafka, ensureTopics } from '../infra/kafka.ts';
import { upLocalStack } from '../infra/local/stack.ts';
import { createLogger } from '../infra/logger.ts';
import { createSchemaRegistry } from '../infra/schema-registry.ts';
import { machineLine, median, writeSection } from './bench-report.ts';
import { mintToken } from './dev-token.ts';
import { BINANCE_FILE, LEAN_FILE, tradeEvents } from './trade-files.ts';
import { publishTrades } from './trade-publisher.ts';

const say = (m: string) => process.stderr.write(`[bench:api] ${m}\n`);
const ORG = 'BENCH_API';
const SECRET = randomBytes(32).toString('base64url');
const MARKETS = ['AIG-USD', 'BAC-USD', 'IBM-USD'];
const DAYS = ['2013-10-07', '2013-10-08', '2013-10-09', '2013-10-10', '2013-10-11'];
const nextDay = (d: string) => new Date(Date.parse(`${d}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
const q = (p: Record<string, string>) => `/orgs/${ORG}/analytics/metrics/trading?${new URLSearchParams(p)}`;

/**
 * The dashboard mix: 37 distinct queries a wall of widgets would poll: per market, the last hour
 * of 1m windows at several moments of the session, the day in 5m windows, the week in 1h
 * windows, 90 days in 1d windows; and the 90-day daily volume of all markets.
 */
function dashboardPaths(): string[] {
  const paths: string[] = [];
  const hours = ['14:00', '15:00', '16:00', '17:00', '18:00', '19:00'];
  for (const m of MARKETS) {
    for (const h of hours) paths.push(q({ from: `2013-10-08T${h}:00Z`, to: `2013-10-08T${String(Number(h.slice(0, 2)) + 1).padStart(2, '0')}:00:00Z`, interval: '1m', markets: m }));
    for (const d of DAYS.slice(1, 4)) paths.push(q({ from: d, to: nextDay(d), interval: '5m', markets: m }));
    paths.push(q({ from: '2013-10-07', to: '2013-10-12', interval: '1h', markets: m }));
    paths.push(q({ from: '2013-08-01', to: '2013-10-30', interval: '1d', markets: m }));
  }
  paths.push(q({ from: '2013-08-01', to: '2013-10-30', interval: '1d' }));
  return paths;
}

/** 1-day 1m query for one market; `k` moves the end by k minutes so each k is a distinct query. */
const oneDay1m = (k: number) =>
  q({ from: '2013-10-08T00:00:00Z', to: new Date(Date.parse('2013-10-09T00:00:00Z') + (k % 1440) * 60_000).toISOString(), interval: '1m', markets: 'BAC-USD', limit: '2880' });
/** 90-day 1d query for all markets; `k` shifts the window a day at a time. */
const ninetyDay1d = (k: number) => {
  const from = Date.parse('2013-08-01T00:00:00Z') + (k % 60) * 86_400_000;
  return q({ from: new Date(from).toISOString().slice(0, 10), to: new Date(from + 90 * 86_400_000).toISOString().slice(0, 10), interval: '1d' });
};

async function startService(env: Record<string, string>): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'main.ts')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const onData = (b: Buffer) => {
      for (const line of b.toString().split('\n')) {
        if (!line.includes('"service started"')) continue;
        // From here on the request log is drained unread, as a log shipper would.
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve(Number(JSON.parse(line).port));
      }
    };
    child.stdout!.on('data', onData);
    child.on('exit', (c) => reject(new Error(`service exited ${c}`)));
  });
  return { child, base: `http://127.0.0.1:${port}` };
}

interface Figures {
  p50: number;
  p99: number;
  rps: number;
  non2xx: number;
}

async function load(base: string, bearer: string, pathFor: (i: number) => string, connections: number, seconds: number): Promise<Figures> {
  let i = 0;
  const result = await autocannon({
    url: base,
    connections,
    duration: seconds,
    // Dashboards run in browsers, which always accept gzip.
    headers: { authorization: `Bearer ${bearer}`, 'accept-encoding': 'gzip' },
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: pathFor(i++) }) }],
  });
  return { p50: result.latency.p50, p99: result.latency.p99, rps: result.requests.average, non2xx: result.non2xx + result.errors };
}

async function main() {
  const { values } = parseArgs({
    options: { connections: { type: 'string', default: '50' }, seconds: { type: 'string', default: '10' }, runs: { type: 'string', default: '3' } },
  });
  const connections = Number(values.connections);
  const seconds = Number(values.seconds);
  const runs = Number(values.runs);
  const stack = process.env.KAFKA_BROKERS && process.env.SCHEMA_REGISTRY_URL ? null : await upLocalStack({ log: say });
  const topic = `bench.api.${randomBytes(3).toString('hex')}.v1`;
  const env = {
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? stack!.kafkaBrokers,
    SCHEMA_REGISTRY_URL: process.env.SCHEMA_REGISTRY_URL ?? stack!.schemaRegistryUrl,
    DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'bench-api-')),
    JWT_SECRET: SECRET,
    TRADES_TOPIC: topic,
    KAFKA_GROUP_ID: `bench-api-${randomBytes(3).toString('hex')}`,
    PORT: '0',
    LOG_LEVEL: 'info',
  };
  const config = loadConfig({ ...process.env, ...env });
  const logger = createLogger({ LOG_LEVEL: 'error' });
  const kafka = createKafka(config, logger);
  await ensureTopics(kafka, [{ topic, numPartitions: 3 }]);
  const svc = await startService(env);
  try {
    say('loading the LEAN file (906,352 trades) and the Binance file (119,073 trades) through Kafka...');
    const t0 = performance.now();
    const registry = createSchemaRegistry(config);
    let sent = 0;
    for (const file of [LEAN_FILE, BINANCE_FILE]) sent += (await publishTrades({ kafka, registry }, tradeEvents(file, { orgs: [ORG] }), { topic, format: 'avro' })).sent;
    const bearer = await mintToken(SECRET, { orgId: ORG, sub: 'usr_bench', issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE });
    const count = async () => {
      let n = 0;
      for (const p of [q({ from: '2013-10-01', to: '2013-11-01', interval: '1d' }), q({ from: '2023-04-01', to: '2024-09-01', interval: '1d' })]) {
        const body = (await (await fetch(`${svc.base}${p}`, { headers: { authorization: `Bearer ${bearer}` } })).json()) as { data: { trades: number }[] };
        n += body.data.reduce((s, d) => s + d.trades, 0);
      }
      return n;
    };
    while ((await count()) < sent) await new Promise((r) => setTimeout(r, 500));
    say(`${sent.toLocaleString('en-US')} trades queryable after ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const dash = dashboardPaths();
    const scenarios: [string, (i: number) => string][] = [
      [`dashboard mix: ${dash.length} distinct queries polled repeatedly`, (i) => dash[i % dash.length]!],
      ['1-day 1m query (BAC-USD, 960 windows), repeated', () => oneDay1m(0)],
      ['1-day 1m query, every request distinct (uncached)', (i) => oneDay1m(i)],
      ['90-day 1d query (3 markets), repeated', () => ninetyDay1d(0)],
      ['90-day 1d query, every request distinct (uncached)', (i) => ninetyDay1d(i)],
    ];
    await load(svc.base, bearer, (i) => dash[i % dash.length]!, connections, 2); // warm-up
    const figures = new Map<string, Figures[]>();
    for (let run = 1; run <= runs; run++) {
      for (const [name, pathFor] of scenarios) {
        await new Promise((r) => setTimeout(r, 3_000)); // let the previous scenario's backlog drain
        const f = await load(svc.base, bearer, pathFor, connections, seconds);
        figures.set(name, [...(figures.get(name) ?? []), f]);
        say(`run ${run} ${name}: p50 ${f.p50} ms, p99 ${f.p99} ms, ${Math.round(f.rps)} req/s, non-2xx ${f.non2xx}`);
      }
    }
    const row = (name: string) => {
      const fs_ = figures.get(name)!;
      const bad = fs_.reduce((s, f) => s + f.non2xx, 0);
      return `| ${name} | ${median(fs_.map((f) => f.p50))} | **${median(fs_.map((f) => f.p99))}** (${fs_.map((f) => f.p99).join(' / ')}) | ${Math.round(median(fs_.map((f) => f.rps))).toLocaleString('en-US')} | ${bad} |`;
    };
    const cachedP99 = median(figures.get(scenarios[1]![0])!.map((f) => f.p99));
    const uncachedP99 = median(figures.get(scenarios[2]![0])!.map((f) => f.p99));
    const md = `## API (\`npm run bench:api -- --connections ${connections} --seconds ${seconds} --runs ${runs}\`)

Measured ${new Date().toISOString().slice(0, 16)}Z on ${machineLine()}. The service runs as its own process (role \`all\`, embedded chDB with 3 connections, 1 s result reuse); autocannon runs in the benchmark process on the same two cores, ${connections} connections sending Accept-Encoding gzip as browsers do, ${seconds} s per scenario after a 2 s warm-up, ${runs} runs; medians, each run's p99 in brackets. Data: ${sent.toLocaleString('en-US')} real trades (LEAN AIG/BAC/IBM ticks of 2013-10-07..11 and the Binance file) ingested through Kafka first.

| scenario | p50 ms | p99 ms | req/s | non-2xx |
| --- | ---: | ---: | ---: | ---: |
${scenarios.map(([n]) => row(n)).join('\n')}

Uncached/cached p99 ratio for the 1-day 1m query: ${(uncachedP99 / Math.max(1, cachedP99)).toFixed(1)}x.
`;
    writeSection('api', md);
    process.stdout.write(`${md}\n`);
  } finally {
    svc.child.kill('SIGTERM');
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
