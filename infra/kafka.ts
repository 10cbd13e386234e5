import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';

export type { Kafka };

/** Warnings kafkajs prints for settings chosen on purpose (bounded retries, the v2 partitioner). */
const KNOWN_NOISE = ['Limiting retries for the idempotent producer', 'KafkaJS v2.0.0 switched default partitioner'];
/** Errors kafkajs logs while a fresh broker elects its group coordinator; it retries them itself. */
const TRANSIENT_STARTUP = /coordinator is loading|coordinator is not available|not the correct coordinator|leader is not available/i;

/** kafkajs log levels mapped onto pino's, so broker chatter lands in the same JSON log. */
function kafkaLogCreator(logger: Logger) {
  const log = logger.child({ module: 'kafkajs' });
  return () =>
    ({ level, log: entry }: LogEntry) => {
      const { message, ...rest } = entry;
      if (level === logLevel.ERROR && TRANSIENT_STARTUP.test(`${message} ${String(rest.error ?? '')}`)) log.debug(rest, message);
      else if (level === logLevel.ERROR) log.error(rest, message);
      else if (level === logLevel.WARN && !KNOWN_NOISE.some((n) => message.startsWith(n))) log.warn(rest, message);
      else if (level === logLevel.INFO) log.debug(rest, message);
      else log.trace(rest, message);
    };
}

/** The Kafka client factory shared by ingest, the replay tool and reports. */
export function createKafka(config: Pick<Config, 'KAFKA_BROKERS' | 'KAFKA_CLIENT_ID'>, logger: Logger): Kafka {
  return new Kafka({
    clientId: config.KAFKA_CLIENT_ID,
    brokers: config.KAFKA_BROKERS,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(logger),
    retry: { initialRetryTime: 200, retries: 8 },
    connectionTimeout: 5_000,
  });
}

/**
 * Creates topics that do not exist yet (existing ones are left as they are) and waits until
 * every partition has a leader. A broker that has just started may answer "does not host this
 * topic-partition" for a moment, so metadata errors are retried until `timeoutMs`.
 */
export async function ensureTopics(kafka: Kafka, topics: { topic: string; numPartitions: number }[], timeoutMs = 60_000): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`Kafka is not reachable (${(err as Error).message}): start it with \`npm run infra:up\` or set KAFKA_BROKERS`);
  }
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) {
      try {
        await admin.createTopics({
          topics: missing.map((t) => ({ topic: t.topic, numPartitions: t.numPartitions, replicationFactor: 1 })),
          waitForLeaders: false,
        });
      } catch (err) {
        // Another process may have created it meanwhile; the wait below tells.
        if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
      }
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const { topics: meta } = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) });
        if (meta.length === topics.length && meta.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
      if (Date.now() > deadline) throw new Error(`topics ${topics.map((t) => t.topic).join(', ')} have no partition leaders after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await admin.disconnect();
  }
}

/** Readiness probe: the cluster answers a metadata request. */
export async function pingKafka(kafka: Kafka): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.describeCluster();
  } finally {
    await admin.disconnect();
  }
}
