import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { downLocalStack, localStackStatus, upLocalStack } from '../infra/local/stack.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
    schemaRegistryUrl: string;
  }
}

const log = (m: string) => process.stderr.write(`[test services] ${m}\n`);

async function dockerEngineAnswers(): Promise<boolean> {
  try {
    await promisify(execFile)('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

/** Kafka and an Apicurio registry in containers, for machines with a Docker engine. */
async function startContainers(): Promise<{ kafkaBrokers: string; schemaRegistryUrl: string; stop: () => Promise<void> }> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const net = await import('node:net');
  const freePort = () =>
    new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
  const kafkaPort = await freePort();
  const kafka = await new GenericContainer('apache/kafka:4.1.1')
    .withExposedPorts({ container: 9092, host: kafkaPort })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${kafkaPort}`,
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .start();
  const registry = await new GenericContainer('apicurio/apicurio-registry:3.3.3')
    .withExposedPorts(8080)
    .withWaitStrategy(Wait.forHttp('/apis/ccompat/v7/subjects', 8080))
    .start();
  return {
    kafkaBrokers: `127.0.0.1:${kafkaPort}`,
    schemaRegistryUrl: `http://${registry.getHost()}:${registry.getMappedPort(8080)}/apis/ccompat/v7`,
    stop: async () => {
      await registry.stop();
      await kafka.stop();
    },
  };
}

/**
 * Gives integration tests a running Kafka and registry: services named by KAFKA_BROKERS and
 * SCHEMA_REGISTRY_URL win; else containers when a Docker engine answers; else the native
 * processes of `infra/local` (reused when `npm run infra:up` already started them).
 */
export default async function setup(project: TestProject) {
  if (process.env.KAFKA_BROKERS && process.env.SCHEMA_REGISTRY_URL) {
    log(`using KAFKA_BROKERS=${process.env.KAFKA_BROKERS} and SCHEMA_REGISTRY_URL=${process.env.SCHEMA_REGISTRY_URL}`);
    project.provide('kafkaBrokers', process.env.KAFKA_BROKERS);
    project.provide('schemaRegistryUrl', process.env.SCHEMA_REGISTRY_URL);
    return;
  }
  if (await dockerEngineAnswers()) {
    log('Docker engine found: starting Kafka and Apicurio Registry with testcontainers');
    const c = await startContainers();
    project.provide('kafkaBrokers', c.kafkaBrokers);
    project.provide('schemaRegistryUrl', c.schemaRegistryUrl);
    return c.stop;
  }
  const before = await localStackStatus({});
  const alreadyUp = Boolean(before.kafka?.answering && before.registry?.answering);
  log(alreadyUp ? 'reusing the running local stack' : 'no Docker engine: starting native Kafka and schema registry (infra/local)');
  const started = performance.now();
  const stack = await upLocalStack({ log });
  log(`Kafka at ${stack.kafkaBrokers}, registry at ${stack.schemaRegistryUrl} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  project.provide('kafkaBrokers', stack.kafkaBrokers);
  project.provide('schemaRegistryUrl', stack.schemaRegistryUrl);
  if (alreadyUp) return;
  return async () => {
    await downLocalStack({ log });
  };
}
