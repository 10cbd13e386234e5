import { createHash } from 'node:crypto';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { Hono } from 'hono';
import { z } from 'zod';
import { INTERVALS, INTERVAL_MS, tradingWindows, windowsFingerprint, type Interval, type TradingWindow } from '../aggregators/windows.queries.ts';
import type { Tables } from '../aggregators/tables.ts';
import type { ClickHouseClient } from '@clickhouse/client';
import type { AppEnv } from './context.ts';
import { MARKET_PATTERN } from '../schemas/trade-executed.ts';
import { AppError } from './errors.ts';
import type { QueryCache } from './query-cache.ts';
import { validateQuery } from './validate.ts';

/** Longest range one request may span, per interval; longer asks get INVALID_DATE_RANGE. */
export const MAX_RANGE_DAYS: Record<Interval, number> = { '1m': 7, '5m': 31, '1h': 366, '1d': 1830 };
/** Range used when `from` is omitted. */
const DEFAULT_SPAN_MS: Record<Interval, number> = { '1m': 3_600_000, '5m': 21_600_000, '1h': 86_400_000, '1d': 30 * 86_400_000 };
export const DEFAULT_LIMIT = 500;

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;

/** An ISO date (`2025-11-01`, UTC midnight) or an ISO date-time with a zone; nothing else. */
function parseInstant(value: string): Date | null {
  if (!DATE_ONLY.test(value) && !DATE_TIME.test(value)) return null;
  const d = new Date(DATE_ONLY.test(value) ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(d.getTime())) return null;
  // Reject dates that JavaScript silently rolls over, like 2025-02-30.
  if (DATE_ONLY.test(value) && d.toISOString().slice(0, 10) !== value) return null;
  return d;
}

const instant = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined) return undefined;
    const d = parseInstant(v);
    if (!d) {
      const hint = v.includes(' ') ? ' (a "+" in a query string must be sent as %2B)' : '';
      ctx.addIssue({ code: 'custom', message: `"${v.slice(0, 40)}" is not an ISO date or date-time${hint}`, params: { code: 'INVALID_DATE_RANGE' } });
      return z.NEVER;
    }
    return d;
  });

const MARKET = MARKET_PATTERN;

export function metricsQuerySchema(limitMax: number) {
  return z
    .object({
      from: instant,
      to: instant,
      interval: z.enum(INTERVALS, { message: `interval must be one of ${INTERVALS.join(', ')}` }).default('1h'),
      markets: z
        .string()
        .optional()
        .transform((v) => (v ? [...new Set(v.split(',').map((m) => m.trim()).filter(Boolean))] : []))
        .pipe(z.array(z.string().regex(MARKET, 'markets look like BTC-USDT or BTC-USDT-PERP, in capitals')).max(50, 'at most 50 markets')),
      limit: z
        .string()
        .regex(/^[1-9]\d{0,5}$/, `limit must be a whole number from 1 to ${limitMax}`)
        .transform(Number)
        .pipe(z.number().max(limitMax, `limit must be a whole number from 1 to ${limitMax}`))
        .default(DEFAULT_LIMIT),
      cursor: z.string().max(512).optional(),
    })
    .strict();
}

/** Floors to the interval (UTC); days and hours are whole UTC days and hours. */
const floorTo = (d: Date, interval: Interval) => new Date(Math.floor(d.getTime() / INTERVAL_MS[interval]) * INTERVAL_MS[interval]);
const ceilTo = (d: Date, interval: Interval) => new Date(Math.ceil(d.getTime() / INTERVAL_MS[interval]) * INTERVAL_MS[interval]);

export interface ResolvedRange {
  from: Date;
  to: Date;
}

/** Aligns the range outward to whole buckets and enforces its limits. */
export function resolveRange(interval: Interval, from: Date | undefined, to: Date | undefined, now: Date): ResolvedRange {
  const end = ceilTo(to ?? now, interval);
  const start = floorTo(from ?? new Date(end.getTime() - DEFAULT_SPAN_MS[interval]), interval);
  if ((from && to && from.getTime() >= to.getTime()) || start.getTime() >= end.getTime()) {
    throw new AppError('INVALID_DATE_RANGE', '"from" must be before "to"');
  }
  const maxMs = MAX_RANGE_DAYS[interval] * 86_400_000;
  if (end.getTime() - start.getTime() > maxMs) {
    throw new AppError('INVALID_DATE_RANGE', `range too large for interval ${interval}: at most ${MAX_RANGE_DAYS[interval]} days`);
  }
  if (start.getTime() < Date.UTC(1970, 0, 1) || end.getTime() > Date.UTC(2105, 0, 1)) {
    throw new AppError('INVALID_DATE_RANGE', 'dates must fall between 1970 and 2105');
  }
  return { from: start, to: end };
}

interface CursorPayload {
  b: number;
  m: string;
  q: string;
}

/** Fingerprint of everything that defines a result set, so a cursor cannot be replayed on another query. */
function queryFingerprint(orgId: string, interval: Interval, range: ResolvedRange, markets: string[]): string {
  return createHash('sha256')
    .update(JSON.stringify([orgId, interval, range.from.getTime(), range.to.getTime(), [...markets].sort()]))
    .digest('base64url')
    .slice(0, 16);
}

export function encodeCursor(p: CursorPayload): string {
  return Buffer.from(JSON.stringify(p)).toString('base64url');
}

/** Decodes a cursor; it must belong to this query and point inside its range, on a bucket boundary. */
export function decodeCursor(cursor: string, fingerprint: string, range?: ResolvedRange, interval?: Interval): { bucket: Date; market: string } {
  let p: unknown;
  try {
    p = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new AppError('VALIDATION_ERROR', 'cursor is not valid');
  }
  const parsed = z.object({ b: z.number().int(), m: z.string().regex(MARKET), q: z.string() }).safeParse(p);
  if (!parsed.success) throw new AppError('VALIDATION_ERROR', 'cursor is not valid');
  if (parsed.data.q !== fingerprint) throw new AppError('VALIDATION_ERROR', 'cursor belongs to a different query');
  const b = parsed.data.b;
  if (range && interval && (b < range.from.getTime() || b >= range.to.getTime() || b % INTERVAL_MS[interval] !== 0)) {
    throw new AppError('VALIDATION_ERROR', 'cursor is not valid');
  }
  return { bucket: new Date(b), market: parsed.data.m };
}

function toJson(w: TradingWindow) {
  return {
    timestamp: w.timestamp.toISOString().replace('.000Z', 'Z'),
    market: w.market,
    trades: w.trades,
    volume: w.volume,
    notionalUSD: w.notionalUSD,
    vwap: w.vwap,
    notional: w.notional,
    buyVolume: w.buyVolume,
    sellVolume: w.sellVolume,
    open: w.open,
    high: w.high,
    low: w.low,
    close: w.close,
    usdMissingTrades: w.usdMissingTrades,
    firstTradeAt: w.firstTradeAt.toISOString(),
    lastTradeAt: w.lastTradeAt.toISOString(),
  };
}

const gzipAsync = promisify(gzip);
/** Smaller bodies are not worth compressing. */
const GZIP_MIN_BYTES = 2_048;

/** A response body as cached: the JSON, and its gzip made at most once, on first demand. */
interface CachedBody {
  json: string;
  fingerprint: string | null;
  gzipped(): Promise<Buffer>;
}

function cachedBody(fingerprint: string | null, json: string): CachedBody {
  let zipped: Promise<Buffer> | undefined;
  return { json, fingerprint, gzipped: () => (zipped ??= gzipAsync(json, { level: 5 })) };
}

export interface TradingMetricsDeps {
  /** A client per query, so concurrent requests spread over connections. */
  pickClient: () => ClickHouseClient;
  tables: Tables;
  cache: QueryCache;
  limitMax: number;
  now?: () => Date;
}

/** `GET .../metrics/trading`: windows of the caller's org, with opaque keyset pagination. */
export function tradingMetricsRoutes(deps: TradingMetricsDeps) {
  const schema = metricsQuerySchema(deps.limitMax);
  const now = deps.now ?? (() => new Date());
  return new Hono<AppEnv>().get('/metrics/trading', async (c) => {
    const q = validateQuery(c, schema);
    const orgId = c.get('orgId');
    const range = resolveRange(q.interval, q.from, q.to, now());
    const fingerprint = queryFingerprint(orgId, q.interval, range, q.markets);
    const after = q.cursor ? decodeCursor(q.cursor, fingerprint, range, q.interval) : undefined;
    const key = JSON.stringify([q.interval, range.from.getTime(), range.to.getTime(), q.markets, q.limit, q.cursor ?? '']);
    const scope = { orgId, markets: q.markets, fromMs: range.from.getTime(), toMs: range.to.getTime() };
    const covered = { orgId, interval: q.interval, from: range.from, to: range.to, markets: q.markets };
    const revalidate = () => windowsFingerprint(deps.pickClient(), deps.tables, covered);
    const load = async () => {
      const { windows: rows, fingerprint: dataFingerprint } = await tradingWindows(deps.pickClient(), deps.tables, {
        orgId,
        interval: q.interval,
        from: range.from,
        to: range.to,
        markets: q.markets,
        limit: q.limit + 1,
        after,
      });
      const page = rows.slice(0, q.limit);
      const last = page[page.length - 1];
      const nextCursor =
        rows.length > q.limit && last ? encodeCursor({ b: last.timestamp.getTime(), m: last.market, q: fingerprint }) : null;
      const watermark = page.reduce((m, w) => Math.max(m, w.lastIngestedAt.getTime()), 0);
      return cachedBody(dataFingerprint, JSON.stringify({
        orgId,
        interval: q.interval,
        range: { from: range.from.toISOString().replace('.000Z', 'Z'), to: range.to.toISOString().replace('.000Z', 'Z') },
        data: page.map(toJson),
        meta: { nextCursor, count: page.length, lastIngestedAt: watermark ? new Date(watermark).toISOString() : null },
      }));
    };
    const body = await deps.cache.get(scope, key, { load, fingerprint: revalidate, fingerprintOf: (b) => b.fingerprint });
    const headers = { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'private, max-age=1', Vary: 'Accept-Encoding' };
    if (body.json.length >= GZIP_MIN_BYTES && /\bgzip\b/.test(c.req.header('accept-encoding') ?? '')) {
      return c.body(new Uint8Array(await body.gzipped()), 200, { ...headers, 'Content-Encoding': 'gzip' });
    }
    return c.body(body.json, 200, headers);
  });
}
