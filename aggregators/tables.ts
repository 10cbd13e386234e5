/**
 * Table names by role. The database is a validated identifier from configuration; these are
 * the only strings ever interpolated into SQL (values always travel as query parameters).
 */
export function tablesFor(database: string) {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) throw new Error(`invalid database name: ${database}`);
  return {
    tradesRaw: `${database}.trades_raw_v1`,
    trades1m: `${database}.trades_1m_v1`,
    trades1h: `${database}.trades_1h_v1`,
    trades1d: `${database}.trades_1d_v1`,
    tradeEventIds: `${database}.trade_event_ids_v1`,
    ingestLedger: `${database}.ingest_ledger_v1`,
    auditLog: `${database}.audit_log_v1`,
  } as const;
}

export type Tables = ReturnType<typeof tablesFor>;
