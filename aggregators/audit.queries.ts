import type { ClickHouseClient } from '@clickhouse/client';
import type { Tables } from './tables.ts';

export interface AuditEntry {
  at: Date;
  requestId: string;
  orgId: string;
  subject: string;
  action: string;
  resource: string;
  outcome: 'ALLOWED' | 'DENIED';
  reason: string;
  status: number;
  ip: string;
}

export async function insertAuditEntries(ch: ClickHouseClient, tables: Tables, entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await ch.insert({
    table: tables.auditLog,
    format: 'JSONEachRow',
    values: entries.map((e) => ({
      at: e.at.getTime(),
      request_id: e.requestId,
      org_id: e.orgId,
      subject: e.subject,
      action: e.action,
      resource: e.resource,
      outcome: e.outcome,
      reason: e.reason,
      status: e.status,
      ip: e.ip,
    })),
    clickhouse_settings: { date_time_input_format: 'best_effort', log_comment: 'insertAuditEntries' },
  });
}

export interface AuditQuery {
  orgId: string;
  requestId?: string;
  limit: number;
}

/** Reads an org's audit trail, newest first. */
export async function auditEntries(ch: ClickHouseClient, tables: Tables, q: AuditQuery): Promise<AuditEntry[]> {
  const rs = await ch.query({
    query: `SELECT toUnixTimestamp64Milli(at) AS at_ms, request_id, org_id, subject, action, resource, outcome, reason, status, ip
            FROM ${tables.auditLog}
            WHERE org_id = {orgId:String} AND ({requestId:String} = '' OR request_id = {requestId:String})
            ORDER BY at DESC LIMIT {limit:UInt32}`,
    query_params: { orgId: q.orgId, requestId: q.requestId ?? '', limit: q.limit },
    format: 'JSONEachRow',
    clickhouse_settings: { log_comment: 'auditEntries' },
  });
  const rows = await rs.json<Record<string, string | number>>();
  return rows.map((r) => ({
    at: new Date(Number(r.at_ms)),
    requestId: String(r.request_id),
    orgId: String(r.org_id),
    subject: String(r.subject),
    action: String(r.action),
    resource: String(r.resource),
    outcome: r.outcome === 'DENIED' ? 'DENIED' : 'ALLOWED',
    reason: String(r.reason),
    status: Number(r.status),
    ip: String(r.ip),
  }));
}
