/**
 * The main job on real data, embedded defaults: starts the local Kafka and schema registry,
 * runs the service (ingest + API, ClickHouse in-process), replays the real Binance trades of
 * shared/data through Kafka as Avro, waits until every trade is queryable, and prints a curl.
 *   npm run demo            keeps serving until Ctrl-C
 *   npm run demo -- --exit  stops everything it started once the curl is printed
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadConfig, REPO_ROOT } from '../infra/config.ts';
import { createKafka } from '../infra/kafka.ts';
import { createLogger } from '../infra/logger.ts';
import { localStackStatus, upLocalStack, downLocalStack } from '../infra/local/stack.ts';
import { createSchemaRegistry } from '../infra/schema-registry.ts';
import { startService } from '../main.ts';
import { mintToken } from './dev-token.ts';
import { assertDataFile, BINANCE_FILE, tradeEvents } from './trade-files.ts';
import { publishTrades } from './trade-publisher.ts';

const say = (m: string) => process.stderr.write(`\x1b[1m[demo]\x1b[0m ${m}\n`);
const DEV_ENV = path.join(REPO_ROOT, '.local', 'dev.env');
const ORG = 'ORG123';
const FILE_TRADES = 119_073;

/** A development JWT secret, made once and kept in .local/dev.env (never logged). */
function devSecret(): string {
  if (process.env.JWT_SECRET) return process.env.JWT_SECRET;
  if (fs.existsSync(DEV_ENV)) {
    const m = /^JWT_SECRET=(.+)$/m.exec(fs.readFileSync(DEV_ENV, 'utf8'));
    if (m?.[1]) return m[1];
  }
  const secret = randomBytes(32).toString('base64url');
  fs.mkdirSync(path.dirname(DEV_ENV), { recursive: true });
  fs.writeFileSync(DEV_ENV, `JWT_SECRET=${secret}\n`, { mode: 0o600 });
  return secret;
}

async function main() {
  const { values } = parseArgs({ options: { exit: { type: 'boolean', default: false } } });
  const t0 = performance.now();

  assertDataFile(BINANCE_FILE); // fail before starting anything
  let stackStartedHere = false;
  let env: NodeJS.ProcessEnv = { ...process.env, JWT_SECRET: devSecret(), LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' };
  // From here on, anything that fails stops what this demo started before it exits.
  const cleanup: (() => Promise<void>)[] = [];
  try {
    if (!process.env.KAFKA_BROKERS || !process.env.SCHEMA_REGISTRY_URL) {
      const before = await localStackStatus({});
      stackStartedHere = !(before.kafka?.answering && before.registry?.answering);
      if (stackStartedHere) cleanup.push(() => downLocalStack({ log: say }));
      say('starting the local Kafka and schema registry (native processes; first run downloads them from Maven Central)...');
      const stack = await upLocalStack({ log: say });
      env = { ...env, KAFKA_BROKERS: stack.kafkaBrokers, SCHEMA_REGISTRY_URL: stack.schemaRegistryUrl };
    }
    await runDemo(env, values.exit, t0, stackStartedHere, cleanup);
  } catch (err) {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    throw err;
  }
}

async function runDemo(env: NodeJS.ProcessEnv, exitAfter: boolean, t0: number, stackStartedHere: boolean, cleanup: (() => Promise<void>)[]) {
  const secs = (from: number) => `${((performance.now() - from) / 1000).toFixed(1)} s`;
  const config = loadConfig(env);
  const logger = createLogger(config);
  say(`starting the service (role ${config.ROLE}, ClickHouse ${config.CLICKHOUSE_URL ? config.CLICKHOUSE_URL : `embedded in ${config.DATA_DIR}`})...`);
  const service = await startService(config, logger);
  cleanup.push(() => service.stop());
  const base = `http://${config.HOST}:${service.port}`;
  const ready = await (await fetch(`${base}/readyz`)).json();
  say(`service up at ${base}; /readyz: ${JSON.stringify(ready)}`);

  say(`replaying ${path.basename(BINANCE_FILE)} (${FILE_TRADES.toLocaleString('en-US')} real Binance trades) to ${config.TRADES_TOPIC} as Avro for ${ORG}...`);
  const kafka = createKafka(config, logger);
  let lastDraw = 0;
  const published = await publishTrades(
    { kafka, registry: createSchemaRegistry(config) },
    tradeEvents(BINANCE_FILE, { orgs: [ORG] }),
    {
      topic: config.TRADES_TOPIC,
      format: 'avro',
      onProgress: (n) => {
        if (performance.now() - lastDraw < 250 && n < FILE_TRADES) return;
        lastDraw = performance.now();
        const pct = Math.round((n / FILE_TRADES) * 100);
        process.stderr.write(`\r[${'='.repeat(Math.round(pct / 100 * 30)).padEnd(30)}] ${pct}% ${n.toLocaleString('en-US')} trades`);
      },
    },
  );
  process.stderr.write('\n');
  say(`published ${published.sent.toLocaleString('en-US')} trades in ${published.seconds.toFixed(1)} s`);

  const bearer = await mintToken(config.JWT_SECRET!, {
    orgId: ORG,
    sub: 'usr_demo',
    scope: 'analytics:read analytics:write',
    roles: ['AnalyticsViewer'],
    ttlSeconds: 86_400,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
  });
  const dailyUrl = `${base}/orgs/${ORG}/analytics/metrics/trading?from=2023-04-01&to=2024-08-10&interval=1d`;
  const waitStarted = performance.now();
  let stored = 0;
  for (;;) {
    const body = (await (await fetch(dailyUrl, { headers: { Authorization: `Bearer ${bearer}` } })).json()) as { data: { trades: number }[] };
    stored = body.data.reduce((n, d) => n + d.trades, 0);
    if (stored >= published.sent || performance.now() - waitStarted > 120_000) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  say(`${stored.toLocaleString('en-US')} trades queryable (${secs(waitStarted)} after the last publish; ${secs(t0)} in all)`);
  if (stored !== published.sent && published.sent === FILE_TRADES) {
    say(`note: ${stored} stored for ${published.sent} published; an earlier demo run may have stored them already (event ids are deduplicated)`);
  }

  const hourly = `${base}/orgs/${ORG}/analytics/metrics/trading?from=2024-08-08T23:00:00Z&to=2024-08-09T01:00:00Z&interval=1h&markets=BTC-USDT,ETH-USDT`;
  const sample = await (await fetch(hourly, { headers: { Authorization: `Bearer ${bearer}` } })).json();
  process.stdout.write(`\nHourly metrics for BTC-USDT and ETH-USDT (spot), 2024-08-08 23:00 to 2024-08-09 01:00 UTC:\n${JSON.stringify(sample, null, 2)}\n`);
  process.stdout.write(`\nTry it yourself (token valid 24 h):\n\ncurl -s -H 'Authorization: Bearer ${bearer}' \\\n  '${hourly}'\n\n`);

  const stop = async () => {
    say('stopping the service...');
    await service.stop();
    if (stackStartedHere) {
      say('stopping the local Kafka and schema registry this demo started...');
      await downLocalStack({ log: say });
    } else {
      say('leaving the local Kafka and schema registry running (npm run infra:down stops them)');
    }
  };
  cleanup.length = 0; // from here on, stop() below owns the shutdown
  if (exitAfter) {
    await stop();
    return;
  }
  say('serving; press Ctrl-C to stop');
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`stop failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
