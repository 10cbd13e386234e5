import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

/** Repository root, so that default data folders do not depend on the working directory. */
export const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

const csv = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(z.string()).min(1));

const optionalUrl = z
  .string()
  .optional()
  .transform((s) => (s && s.trim() !== '' ? s.trim() : undefined))
  .pipe(z.url().optional());

/**
 * The whole configuration. Keys are the environment variable names so they can be grepped;
 * defaults run the embedded setup (chDB in-process, local Kafka and registry from `infra:up`).
 */
export const ConfigSchema = z
  .object({
    ROLE: z.enum(['all', 'ingest', 'api', 'reports']).default('all'),
    PORT: z
      .string()
      .regex(/^\d{1,5}$/, 'PORT must be a port number (0 picks a free one)')
      .transform(Number)
      .pipe(z.number().max(65535, 'PORT must be at most 65535'))
      .default(3000),
    HOST: z.string().default('127.0.0.1'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    DATA_DIR: z.string().default(path.join(REPO_ROOT, '.local', 'data')),

    KAFKA_BROKERS: csv.default(['127.0.0.1:9092']),
    KAFKA_CLIENT_ID: z.string().default('analytics-reports'),
    KAFKA_GROUP_ID: z.string().default('analytics-ingest'),
    TRADES_TOPIC: z.string().default('exchange.trades.v1'),
    TRADES_TOPIC_PARTITIONS: z.coerce.number().int().min(1).max(256).default(3),
    SCHEMA_REGISTRY_URL: z.url().default('http://127.0.0.1:8081/apis/ccompat/v7'),

    CLICKHOUSE_URL: optionalUrl,
    CLICKHOUSE_USER: z.string().default('default'),
    CLICKHOUSE_PASSWORD: z.string().default(''),
    CLICKHOUSE_EMBEDDED_CONNECTIONS: z.coerce.number().int().min(1).max(16).default(3),
    CLICKHOUSE_DATABASE: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).default('analytics'),

    JWT_SECRET: z.string().min(32, 'JWT_SECRET must be at least 32 characters').optional(),
    JWT_JWKS_URL: optionalUrl,
    JWT_ISSUER: z.string().default('https://auth.exchange.local'),
    JWT_AUDIENCE: z.string().default('analytics-reports'),
    JWT_CLOCK_TOLERANCE_S: z.coerce.number().int().min(0).max(300).default(5),

    INGEST_PARTITIONS_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(3),
    QUERY_CACHE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
    METRICS_LIMIT_MAX: z.coerce.number().int().min(1).max(100_000).default(10_000),
  })
  .superRefine((c, ctx) => {
    if (!c.JWT_SECRET && !c.JWT_JWKS_URL && (c.ROLE === 'all' || c.ROLE === 'api')) {
      ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'set JWT_SECRET (HS256) or JWT_JWKS_URL (RS256/ES256)' });
    }
  });

export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Parses the environment once; every bad variable is listed at the same time. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const picked = Object.fromEntries(
    Object.keys(ConfigSchema.shape ?? {}).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  const parsed = ConfigSchema.safeParse(picked);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`));
  }
  return parsed.data;
}

/** Default cache for downloaded artifacts shared by all clones on this machine. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.ANALYTICS_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'analytics-reports');
}
