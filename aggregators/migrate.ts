import fs from 'node:fs/promises';
import path from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from '../infra/logger.ts';

const MIGRATIONS_DIR = path.join(path.dirname(new URL(import.meta.url).pathname), 'migrations');
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

/** Splits a migration file into statements; `{db}` is the only placeholder and is a checked identifier. */
export function parseMigration(file: string, sql: string, database: string): Migration {
  if (!IDENTIFIER.test(database)) throw new Error(`invalid database name: ${database}`);
  const match = /^(\d+)_(.+)\.sql$/.exec(file);
  if (!match) throw new Error(`migration file name must be NNN_name.sql: ${file}`);
  const withoutComments = sql
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n');
  const statements = withoutComments
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => s.replaceAll('{db}', database));
  return { version: Number(match[1]), name: match[2] ?? file, statements };
}

export async function loadMigrations(database: string, dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  return Promise.all(files.map(async (f) => parseMigration(f, await fs.readFile(path.join(dir, f), 'utf8'), database)));
}

/**
 * Applies forward-only, numbered migrations once each, in order. Statements are idempotent
 * (`IF NOT EXISTS`), so a crash between a statement and its record is harmless on the next start.
 */
export async function migrate(ch: ClickHouseClient, database: string, logger: Logger): Promise<number[]> {
  const log = logger.child({ module: 'migrate' });
  await ch.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` });
  await ch.command({
    query: `CREATE TABLE IF NOT EXISTS ${database}.schema_migrations_v1
            (version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
            ENGINE = MergeTree ORDER BY version`,
  });
  const applied = new Set(
    (
      await (
        await ch.query({ query: `SELECT version FROM ${database}.schema_migrations_v1`, format: 'JSONEachRow' })
      ).json<{ version: number }>()
    ).map((r) => Number(r.version)),
  );
  const done: number[] = [];
  for (const m of await loadMigrations(database)) {
    if (applied.has(m.version)) continue;
    for (const statement of m.statements) await ch.command({ query: statement });
    await ch.insert({
      table: `${database}.schema_migrations_v1`,
      values: [{ version: m.version, name: m.name }],
      format: 'JSONEachRow',
    });
    log.info({ version: m.version, name: m.name }, 'migration applied');
    done.push(m.version);
  }
  return done;
}
