import type { ClickHouseClient } from '@clickhouse/client';
import { insertAuditEntries, type AuditEntry } from '../aggregators/audit.queries.ts';
import type { Tables } from '../aggregators/tables.ts';
import type { Logger } from '../infra/logger.ts';

export interface AuditSink {
  record(entry: Omit<AuditEntry, 'at'>): void;
  /** Writes everything recorded so far; resolves when it is in ClickHouse. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Buffers audit entries and writes them in batches, off the request's critical path. A failed
 * write is retried with the next flush; the buffer is bounded, and overflow is logged loudly.
 */
export function createAuditSink(deps: {
  ch: ClickHouseClient;
  tables: Tables;
  logger: Logger;
  flushIntervalMs?: number;
  bufferMax?: number;
}): AuditSink {
  const log = deps.logger.child({ module: 'audit' });
  const bufferMax = deps.bufferMax ?? 100_000;
  let buffer: AuditEntry[] = [];
  let inflight: Promise<void> = Promise.resolve();

  const writeOnce = async () => {
    if (buffer.length === 0) return;
    const batch = buffer;
    buffer = [];
    try {
      await insertAuditEntries(deps.ch, deps.tables, batch);
    } catch (err) {
      log.error({ err, entries: batch.length }, 'audit write failed; will retry');
      buffer = batch.concat(buffer).slice(0, bufferMax);
    }
  };
  const flush = () => {
    inflight = inflight.then(writeOnce);
    return inflight;
  };
  const timer = setInterval(() => void flush(), deps.flushIntervalMs ?? 500);
  timer.unref();

  return {
    record(entry) {
      if (buffer.length >= bufferMax) {
        log.error({ dropped: entry.action }, 'audit buffer full; entry dropped');
        return;
      }
      buffer.push({ ...entry, at: new Date() });
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
