import fs from 'node:fs';
import path from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import type { Config } from './config.ts';

export type { ClickHouseClient };

type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>;

/** Settings every session gets: decimals travel as strings so no value passes through a float. */
export const CLICKHOUSE_DEFAULT_SETTINGS = {
  output_format_json_quote_decimals: 1,
  output_format_json_quote_64bit_integers: 1,
  date_time_input_format: 'best_effort',
} as const;

export interface ClickHouseHandle {
  /** The first client: migrations and one-off work. */
  client: ClickHouseClient;
  /**
   * A client for concurrent work, round-robin. One chDB connection runs one operation at a
   * time, so embedded mode keeps several connections to the same data folder (they share one
   * engine); against a server the one HTTP client already pools its sockets.
   */
  pick(): ClickHouseClient;
  /** `server` when CLICKHOUSE_URL is set, `embedded` for chDB in this process. */
  mode: 'server' | 'embedded';
  database: string;
  close(): Promise<void>;
}

/**
 * Creates the one ClickHouse client of a process. With CLICKHOUSE_URL it speaks HTTP to that
 * server; without, it runs chDB in-process on `DATA_DIR/clickhouse` (one engine per process).
 */
export function createClickHouse(
  config: Pick<Config, 'CLICKHOUSE_URL' | 'CLICKHOUSE_USER' | 'CLICKHOUSE_PASSWORD' | 'CLICKHOUSE_DATABASE' | 'DATA_DIR'> &
    Partial<Pick<Config, 'CLICKHOUSE_EMBEDDED_CONNECTIONS'>>,
): ClickHouseHandle {
  const database = config.CLICKHOUSE_DATABASE;
  if (config.CLICKHOUSE_URL) {
    const client = createClient({
      url: config.CLICKHOUSE_URL,
      username: config.CLICKHOUSE_USER,
      password: config.CLICKHOUSE_PASSWORD,
      clickhouse_settings: { ...CLICKHOUSE_DEFAULT_SETTINGS },
      request_timeout: 60_000,
    });
    return { client, pick: () => client, mode: 'server', database, close: () => client.close() };
  }
  const dir = path.join(config.DATA_DIR, 'clickhouse');
  fs.mkdirSync(dir, { recursive: true });
  const clients = Array.from({ length: config.CLICKHOUSE_EMBEDDED_CONNECTIONS ?? 3 }, () =>
    createClient({
      // chdb declares the interface from @clickhouse/client-common, which @clickhouse/client now
      // bundles itself; the shapes are the same, the declarations are not.
      connection: createChdbConnection({ path: dir }) as unknown as ClientConnection,
      clickhouse_settings: { ...CLICKHOUSE_DEFAULT_SETTINGS },
    }),
  );
  let next = 0;
  return {
    client: clients[0]!,
    pick: () => clients[next++ % clients.length]!,
    mode: 'embedded',
    database,
    close: async () => {
      for (const c of clients.reverse()) await c.close();
    },
  };
}
