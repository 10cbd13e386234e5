import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Config } from './config.ts';

export type { SchemaRegistry };

/** The Confluent-compatible registry client; the URL may carry a path (Apicurio's `/apis/ccompat/v7`). */
export function createSchemaRegistry(config: Pick<Config, 'SCHEMA_REGISTRY_URL'>): SchemaRegistry {
  return new SchemaRegistry({ host: config.SCHEMA_REGISTRY_URL.replace(/\/+$/, '') }, undefined);
}

/** Readiness probe: the registry lists its subjects. */
export async function pingSchemaRegistry(config: Pick<Config, 'SCHEMA_REGISTRY_URL'>): Promise<void> {
  const res = await fetch(`${config.SCHEMA_REGISTRY_URL.replace(/\/+$/, '')}/subjects`, { signal: AbortSignal.timeout(3_000) });
  if (!res.ok) throw new Error(`schema registry answered ${res.status}`);
}
