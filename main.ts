import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { migrate } from './aggregators/migrate.ts';
import { tablesFor } from './aggregators/tables.ts';
import { createApp } from './api/app.ts';
import { createAuditSink, type AuditSink } from './api/audit.ts';
import { createTokenVerifier } from './api/auth.ts';
import { healthRoutes, type ReadinessCheck } from './api/health.routes.ts';
import { DataChanges, QueryCache } from './api/query-cache.ts';
import { dlqTopicOf, type RunningConsumer } from './ingest/consumer.runner.ts';
import { startTradesConsumer } from './ingest/trades.consumer.ts';
import { createClickHouse } from './infra/clickhouse.ts';
import { ConfigError, loadConfig, type Config } from './infra/config.ts';
import { createKafka, ensureTopics, pingKafka } from './infra/kafka.ts';
import { createLogger, type Logger } from './infra/logger.ts';
import { createSchemaRegistry, pingSchemaRegistry } from './infra/schema-registry.ts';
import { Hono } from 'hono';

const SHUTDOWN_TIMEOUT_MS = 30_000;

export interface Service {
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts the roles `config.ROLE` asks for in this process: `all` runs ingest, API and reports;
 * `ingest`, `api` and `reports` run one each (with /healthz and /readyz on PORT).
 */
export async function startService(config: Config, logger: Logger): Promise<Service> {
  const runs = (role: 'ingest' | 'api' | 'reports') => config.ROLE === 'all' || config.ROLE === role;
  const ch = createClickHouse(config);
  const tables = tablesFor(config.CLICKHOUSE_DATABASE);
  const kafka = createKafka(config, logger);
  const registry = createSchemaRegistry(config);
  let shuttingDown = false;

  if (ch.mode === 'embedded' && config.ROLE !== 'all') {
    logger.warn(
      { role: config.ROLE, dataDir: config.DATA_DIR },
      'embedded ClickHouse belongs to this process alone: roles split over processes share data only through a ClickHouse server (CLICKHOUSE_URL)',
    );
  }
  await migrate(ch.client, config.CLICKHOUSE_DATABASE, logger);
  logger.info({ mode: ch.mode, database: config.CLICKHOUSE_DATABASE }, 'clickhouse ready');

  const readiness: Record<string, ReadinessCheck> = {
    clickhouse: async () => {
      const r = await ch.client.ping();
      if (!r.success) throw r.error;
    },
    kafka: () => pingKafka(kafka),
    schemaRegistry: () => pingSchemaRegistry(config),
  };

  const changes = new DataChanges();
  let consumer: RunningConsumer | undefined;
  if (runs('ingest')) {
    await ensureTopics(kafka, [
      { topic: config.TRADES_TOPIC, numPartitions: config.TRADES_TOPIC_PARTITIONS },
      { topic: dlqTopicOf(config.TRADES_TOPIC), numPartitions: 1 },
    ]);
    consumer = await startTradesConsumer({
      kafka,
      registry,
      ch: ch.client,
      tables,
      logger,
      topic: config.TRADES_TOPIC,
      groupId: config.KAFKA_GROUP_ID,
      clientFor: () => ch.pick(),
      partitionsConcurrently: config.INGEST_PARTITIONS_CONCURRENCY,
      onStored: (ranges) => ranges.forEach((r) => changes.record(r.orgId, r.market, r.fromMs, r.toMs)),
    });
  }

  let audit: AuditSink | undefined;
  let app: { fetch: Hono['fetch'] };
  if (runs('api')) {
    audit = createAuditSink({ ch: ch.client, tables, logger });
    app = createApp({
      ch: ch.client,
      pickClient: () => ch.pick(),
      tables,
      logger,
      verifyToken: createTokenVerifier(config),
      audit,
      cache: new QueryCache(changes, config.QUERY_CACHE_TTL_MS),
      readiness,
      isShuttingDown: () => shuttingDown,
      metricsLimitMax: config.METRICS_LIMIT_MAX,
    });
  } else {
    const health = new Hono().route('/', healthRoutes(readiness, () => shuttingDown));
    health.notFound((c) => c.json({ code: 'NOT_FOUND', message: `no such route: this process runs role ${config.ROLE}` }, 404));
    app = health;
  }
  if (runs('reports')) {
    logger.info('reports role: no report job types are defined yet; the worker arrives with the reports issue');
  }

  let server: ServerType;
  try {
    server = await new Promise<ServerType>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, () => resolve(s));
      s.once('error', (err: NodeJS.ErrnoException) =>
        reject(err.code === 'EADDRINUSE' ? new Error(`port ${config.PORT} on ${config.HOST} is already in use: set PORT to a free one`) : err),
      );
    });
  } catch (err) {
    await consumer?.stop().catch(() => undefined);
    await audit?.close().catch(() => undefined);
    await ch.close().catch(() => undefined);
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  logger.info({ role: config.ROLE, port, host: config.HOST }, 'service started');

  return {
    port,
    async stop() {
      shuttingDown = true;
      logger.info('shutting down: draining HTTP, finishing the in-flight batch, leaving the group');
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Idle keep-alive sockets would hold close() open; in-flight requests still finish.
        (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
      });
      await consumer?.stop();
      await audit?.close();
      await ch.close();
      logger.info('stopped');
    },
  };
}

async function main() {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config);
  const service = await startService(config, logger);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'signal received');
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    force.unref();
    service.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    // The message is for a person; the stack only when asked for (LOG_LEVEL=debug or trace).
    // eslint-disable-next-line no-restricted-properties -- the configuration itself may be what failed
    const verbose = /^(debug|trace)$/.test(process.env.LOG_LEVEL ?? '');
    process.stderr.write(`fatal: ${err instanceof Error ? (verbose ? err.stack : err.message) : String(err)}\n`);
    process.exit(1);
  });
}
