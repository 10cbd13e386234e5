/**
 * Integration test: provisions and starts the real Apicurio Registry natively and
 * drives it with the same client the service uses, @kafkajs/confluent-schema-registry,
 * through its Confluent-compatible API. Needs no Kafka (the registry stores in H2).
 * The first run downloads the distribution (~160 MB) into the shared cache.
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isProcessAlive } from './process.js';
import type { RunningService } from './local-service.js';
import { isRegistryAnswering, provisionRegistry, startRegistry } from './registry.local.js';
import { defaultCacheDir } from './stack.js';

const FIRST_RUN_TIMEOUT_MS = 600_000;

/** A port the OS just handed out, so parallel runs and a running dev stack do not collide. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const tradeSchema = {
  type: 'record',
  name: 'TradeExecuted',
  namespace: 'exchange.trades.v1',
  fields: [
    { name: 'eventId', type: 'string' },
    { name: 'orgId', type: 'string' },
    { name: 'market', type: 'string' },
    { name: 'price', type: 'string' },
    { name: 'quantity', type: 'string' },
    { name: 'side', type: { type: 'enum', name: 'Side', symbols: ['BUY', 'SELL'] } },
    { name: 'notionalUsd', type: ['null', 'string'], default: null },
  ],
};

const trade = {
  eventId: 'evt-1',
  orgId: 'org-1',
  market: 'BTC-USD',
  price: '64000.50',
  quantity: '0.25',
  side: 'BUY',
  notionalUsd: null,
};

describe('local schema registry (Apicurio, native)', () => {
  let workDir: string;
  let service: RunningService | undefined;
  const log = (message: string): void => console.log(`[registry-test] ${message}`);

  beforeAll(async () => {
    workDir = await mkdtemp(path.join(os.tmpdir(), 'registry-int-'));
    const cacheDir = defaultCacheDir();
    await provisionRegistry({ cacheDir, workDir, log });
    service = await startRegistry({ cacheDir, workDir, log, port: await freePort(), kafkaBrokers: '' });
  }, FIRST_RUN_TIMEOUT_MS);

  afterAll(async () => {
    await service?.stop();
    await rm(workDir, { recursive: true, force: true });
  }, 60_000);

  it('answers on the Confluent-compatible base address', async () => {
    expect(service?.address).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/apis\/ccompat\/v7$/);
    expect(await isRegistryAnswering(service?.address ?? '')).toBe(true);
  });

  it('registers an Avro schema and round-trips a record in Confluent wire format', async () => {
    const registry = new SchemaRegistry({ host: service?.address ?? '' });
    const subject = 'exchange.trades.v1-value';
    const schema = { type: SchemaType.AVRO as const, schema: JSON.stringify(tradeSchema) };

    const { id } = await registry.register(schema, { subject });
    // Same content, same id: producers re-register on every start.
    expect((await registry.register(schema, { subject })).id).toBe(id);
    expect(await registry.getLatestSchemaId(subject)).toBe(id);

    const encoded = await registry.encode(id, trade);
    expect(encoded[0]).toBe(0); // magic byte
    expect(encoded.readInt32BE(1)).toBe(id);

    // A fresh client has no cache: decode must fetch the schema by id from the registry.
    const reader = new SchemaRegistry({ host: service?.address ?? '' });
    expect({ ...(await reader.decode(encoded)) }).toEqual(trade);
    // getSchema parses the stored schema into an Avro type (full name = namespace + name).
    const fetched = await reader.getSchema(id);
    expect(fetched).toMatchObject({ name: 'exchange.trades.v1.TradeExecuted' });
  });

  it('stops the detached process', async () => {
    const running = service;
    expect(running).toBeDefined();
    if (!running) return;
    expect(isProcessAlive(running.pid)).toBe(true);
    await running.stop();
    expect(isProcessAlive(running.pid)).toBe(false);
    expect(await isRegistryAnswering(running.address)).toBe(false);
    service = undefined;
  }, 60_000);
});
