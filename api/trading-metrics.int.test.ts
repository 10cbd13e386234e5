import { gunzipSync } from 'node:zlib';
import { generateKeyPair, SignJWT, exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { auditEntries } from '../aggregators/audit.queries.ts';
import { migrate } from '../aggregators/migrate.ts';
import { tablesFor } from '../aggregators/tables.ts';
import { insertTrades, type TradeRow } from '../aggregators/trades.queries.ts';
import { createClickHouse, type ClickHouseHandle } from '../infra/clickhouse.ts';
import { createLogger } from '../infra/logger.ts';
import { AUDIENCE, ISSUER, TEST_SECRET, tempDir, token, uniq } from '../test/helpers.ts';
import { createApp } from './app.ts';
import { createAuditSink, type AuditSink } from './audit.ts';
import { createTokenVerifier } from './auth.ts';
import { DataChanges, QueryCache } from './query-cache.ts';

/**
 * The HTTP contract of the trading metrics endpoint against the real (embedded) ClickHouse:
 * authentication, tenancy, validation and pagination. Org A and org B each own one real trade
 * of the 2024-08-08 BTCUSDT spot tape; A must never see B's.
 */
const orgA = uniq('orgA');
const orgB = uniq('orgB');
const logger = createLogger({ LOG_LEVEL: 'error' });
let ch: ClickHouseHandle;
let audit: AuditSink;
let app: ReturnType<typeof createApp>;
const tables = tablesFor('analytics');

function trade(org: string, tradeId: string, price: string, qty: string, at: string): TradeRow {
  return {
    org_id: org,
    market: 'BTC-USDT',
    event_id: `e-${org}-${tradeId}`,
    trade_id: tradeId,
    price,
    quantity: qty,
    notional_usd: null,
    side: 'BUY',
    executed_at: at,
    src_topic: 't',
    src_partition: 0,
    src_offset: 0,
    src_timestamp: at,
    executed_at_ms: Date.parse(`${at.replace(' ', 'T')}Z`),
  };
}

beforeAll(async () => {
  ch = createClickHouse({ DATA_DIR: tempDir('api-test'), CLICKHOUSE_DATABASE: 'analytics', CLICKHOUSE_USER: '', CLICKHOUSE_PASSWORD: '', CLICKHOUSE_URL: undefined });
  await migrate(ch.client, 'analytics', logger);
  // Real rows from the file: trade ids 3709335xxx are not needed; prices and sizes are the tape's.
  await insertTrades(ch.client, tables, [trade(orgA, '1', '61837.63000000', '0.00100000', '2024-08-08 23:59:00.100')], 'a');
  await insertTrades(ch.client, tables, [trade(orgB, '2', '61838.00000000', '7.50000000', '2024-08-08 23:59:01.200')], 'b');
  audit = createAuditSink({ ch: ch.client, tables, logger, flushIntervalMs: 50 });
  app = createApp({
    ch: ch.client,
    tables,
    logger,
    verifyToken: createTokenVerifier({ JWT_SECRET: TEST_SECRET, JWT_JWKS_URL: undefined, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, JWT_CLOCK_TOLERANCE_S: 5 }),
    audit,
    cache: new QueryCache(new DataChanges(), 1000),
    readiness: {},
    isShuttingDown: () => false,
    metricsLimitMax: 10_000,
  });
});

afterAll(async () => {
  await audit?.close();
  await ch?.close();
});

const path = (org: string, qs = 'from=2024-08-08&to=2024-08-10&interval=1h') => `/orgs/${org}/analytics/metrics/trading?${qs}`;
const get = (url: string, bearer?: string, headers: Record<string, string> = {}) =>
  app.request(url, { headers: { ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}), ...headers } });

/** A token built by hand, for claims and keys the regular helper would not produce. */
function handToken(claims: Record<string, unknown>, key: Parameters<SignJWT['sign']>[0] = new TextEncoder().encode(TEST_SECRET), alg = 'HS256') {
  return new SignJWT(claims).setProtectedHeader({ alg }).setSubject('usr_x').setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('1h').sign(key);
}

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { code: string; message: string };
  expect(body.code).toBe(code);
  expect(typeof body.message).toBe('string');
  expect(Object.keys(body).sort()).toEqual(['code', 'message']);
  return body;
}

describe('GET /orgs/{orgId}/analytics/metrics/trading', () => {
  it('answers the spec shape with decimals as exact strings', async () => {
    const res = await get(path(orgA), await token({ orgId: orgA }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown> & { data: Record<string, unknown>[] };
    expect(body).toMatchObject({
      orgId: orgA,
      interval: '1h',
      range: { from: '2024-08-08T00:00:00Z', to: '2024-08-10T00:00:00Z' },
      meta: { nextCursor: null },
    });
    expect(body.data).toEqual([
      expect.objectContaining({
        timestamp: '2024-08-08T23:00:00Z',
        market: 'BTC-USDT',
        trades: 1,
        volume: '0.001',
        notionalUSD: '61.83763',
        vwap: '61837.63',
        open: '61837.63',
        close: '61837.63',
      }),
    ]);
  });

  it('answers under the production prefix /v1/analytics too', async () => {
    const res = await get(`/v1/analytics${path(orgA)}`, await token({ orgId: orgA }));
    expect(res.status).toBe(200);
  });

  describe('authentication', () => {
    it('refuses a request without a token', async () => {
      await expectError(await get(path(orgA)), 401, 'UNAUTHORIZED');
    });
    it('refuses a malformed Authorization header', async () => {
      await expectError(await get(path(orgA), undefined, { Authorization: 'Basic abc' }), 401, 'UNAUTHORIZED');
    });
    it('refuses an expired token', async () => {
      await expectError(await get(path(orgA), await token({ orgId: orgA, ttlSeconds: -60 })), 401, 'UNAUTHORIZED');
    });
    it('refuses a token from another issuer', async () => {
      await expectError(await get(path(orgA), await token({ orgId: orgA, issuer: 'https://evil.example' })), 401, 'UNAUTHORIZED');
    });
    it('refuses a token for another audience', async () => {
      await expectError(await get(path(orgA), await token({ orgId: orgA, audience: 'other-service' })), 401, 'UNAUTHORIZED');
    });
    it('refuses a token signed with another secret', async () => {
      const forged = await handToken({ orgId: orgA, scope: 'analytics:read' }, new TextEncoder().encode('another-secret-another-secret-another-secret'));
      await expectError(await get(path(orgA), forged), 401, 'UNAUTHORIZED');
    });
    it('refuses alg: none', async () => {
      const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const unsigned = `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ sub: 'u', orgId: orgA, scope: 'analytics:read', iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 600 })}.`;
      await expectError(await get(path(orgA), unsigned), 401, 'UNAUTHORIZED');
    });
    it('refuses an RS256 token when the service expects HS256 (algorithm confusion)', async () => {
      const { privateKey, publicKey } = await generateKeyPair('RS256');
      expect(await exportJWK(publicKey)).toHaveProperty('n');
      const rs = await handToken({ orgId: orgA, scope: 'analytics:read' }, privateKey, 'RS256');
      await expectError(await get(path(orgA), rs), 401, 'UNAUTHORIZED');
    });
    it('accepts scopes given as an array, as some identity providers issue them', async () => {
      const arrayScope = await handToken({ orgId: orgA, scope: ['analytics:read'] });
      expect((await get(path(orgA), arrayScope)).status).toBe(200);
    });
    it('refuses a token whose orgId is not an org id', async () => {
      await expectError(await get(path("ORG1' OR 1=1--"), await token({ orgId: "ORG1' OR 1=1--" })), 401, 'UNAUTHORIZED');
    });
    it('refuses a token without an orgId claim', async () => {
      const noOrg = await handToken({ scope: 'analytics:read' });
      await expectError(await get(path(orgA), noOrg), 401, 'UNAUTHORIZED');
    });
  });

  describe('authorisation and tenancy', () => {
    it('refuses a token without the analytics:read scope', async () => {
      await expectError(await get(path(orgA), await token({ orgId: orgA, scope: 'analytics:write' })), 403, 'FORBIDDEN');
    });

    it.each([
      ['the spec path', (org: string) => path(org)],
      ['the /v1 prefix', (org: string) => `/v1/analytics${path(org)}`],
      ['a 1m interval', (org: string) => path(org, 'from=2024-08-08T23:00:00Z&to=2024-08-09T01:00:00Z&interval=1m')],
      ['a market filter', (org: string) => path(org, 'interval=1d&from=2024-08-01&to=2024-08-31&markets=BTC-USDT')],
      ['an encoded org id', (org: string) => `/orgs/${encodeURIComponent(org)}/analytics/metrics/trading`],
    ])('refuses org A reading org B through %s, and audits the refusal', async (_label, url) => {
      const requestId = uniq('req');
      const res = await get(url(orgB), await token({ orgId: orgA, sub: 'usr_snoop' }), { 'X-Request-Id': requestId });
      await expectError(res, 403, 'FORBIDDEN');
      await audit.flush();
      const rows = await vi.waitFor(async () => {
        const r = await auditEntries(ch.client, tables, { orgId: orgA, requestId, limit: 10 });
        expect(r.length).toBeGreaterThan(0);
        return r;
      });
      expect(rows[0]).toMatchObject({ subject: 'usr_snoop', outcome: 'DENIED', status: 403 });
      expect(rows[0]!.reason).toContain(orgB);
    });

    it('never returns another org’s rows: A sees only its own trade', async () => {
      const res = await get(path(orgA, 'interval=1d&from=2024-08-01&to=2024-08-31'), await token({ orgId: orgA }));
      const body = (await res.json()) as { data: { trades: number; volume: string }[] };
      expect(body.data.map((d) => [d.trades, d.volume])).toEqual([[1, '0.001']]);
    });

    it('audits allowed access with who, what and when', async () => {
      const requestId = uniq('req');
      expect((await get(path(orgA), await token({ orgId: orgA, sub: 'usr_reader' }), { 'X-Request-Id': requestId })).status).toBe(200);
      await audit.flush();
      const [row] = await auditEntries(ch.client, tables, { orgId: orgA, requestId, limit: 1 });
      expect(row).toMatchObject({ subject: 'usr_reader', outcome: 'ALLOWED', status: 200, resource: `/orgs/${orgA}/analytics/metrics/trading` });
      expect(Date.now() - row!.at.getTime()).toBeLessThan(60_000);
    });

    it('refuses a cursor minted for another org', async () => {
      // B's first page with limit 1 has no next page; craft one from B's query shape instead.
      const cursor = Buffer.from(JSON.stringify({ b: Date.UTC(2024, 7, 8, 23), m: 'BTC-USDT', q: 'not-this-query' })).toString('base64url');
      await expectError(await get(path(orgA, `from=2024-08-08&to=2024-08-10&interval=1h&cursor=${cursor}`), await token({ orgId: orgA })), 400, 'VALIDATION_ERROR');
    });
  });

  describe('validation', () => {
    it.each([
      ['from equal to to', 'from=2024-08-08&to=2024-08-08', 'INVALID_DATE_RANGE'],
      ['from after to', 'from=2024-08-09&to=2024-08-08', 'INVALID_DATE_RANGE'],
      ['an unparseable from', 'from=yesterday&to=2024-08-08', 'INVALID_DATE_RANGE'],
      ['an impossible date', 'from=2024-02-30&to=2024-03-02', 'INVALID_DATE_RANGE'],
      ['a date-time without a zone', 'from=2024-08-08T10:00:00&to=2024-08-09', 'INVALID_DATE_RANGE'],
      ['8 days of 1m windows', 'from=2024-08-01&to=2024-08-09&interval=1m', 'INVALID_DATE_RANGE'],
      ['367 days of 1h windows', 'from=2023-01-01&to=2024-01-03&interval=1h', 'INVALID_DATE_RANGE'],
      ['an unknown interval', 'from=2024-08-08&to=2024-08-09&interval=2m', 'VALIDATION_ERROR'],
      ['a zero limit', 'from=2024-08-08&to=2024-08-09&limit=0', 'VALIDATION_ERROR'],
      ['a limit above the maximum', 'from=2024-08-08&to=2024-08-09&limit=10001', 'VALIDATION_ERROR'],
      ['a non-numeric limit', 'from=2024-08-08&to=2024-08-09&limit=ten', 'VALIDATION_ERROR'],
      ['a market with SQL in it', "from=2024-08-08&to=2024-08-09&markets=BTC-USD'%20OR%201=1--", 'VALIDATION_ERROR'],
      ['an unknown parameter', 'from=2024-08-08&to=2024-08-09&orgId=other', 'VALIDATION_ERROR'],
      ['a garbage cursor', 'from=2024-08-08&to=2024-08-09&cursor=%%%', 'VALIDATION_ERROR'],
      ['a repeated parameter', 'from=2024-08-08&to=2024-08-09&interval=1h&interval=1m', 'VALIDATION_ERROR'],
      ['a lower-case market', 'from=2024-08-08&to=2024-08-09&markets=btc-usdt', 'VALIDATION_ERROR'],
      ['a limit in exponent notation', 'from=2024-08-08&to=2024-08-09&limit=1e3', 'VALIDATION_ERROR'],
      ['an empty limit', 'from=2024-08-08&to=2024-08-09&limit=', 'VALIDATION_ERROR'],
    ])('answers %s with its error code', async (_label, qs, code) => {
      await expectError(await get(path(orgA, qs), await token({ orgId: orgA })), 400, code);
    });

    it('answers an unknown route with a JSON 404', async () => {
      await expectError(await get('/nope'), 404, 'NOT_FOUND');
    });
  });

  it('serves a gzip body to clients that accept it, with the same JSON inside', async () => {
    const org = uniq('orgZ');
    const rows = Array.from({ length: 40 }, (_, i) => trade(org, String(i + 1), '100.5', '2', `2024-08-08 23:${String(10 + i).padStart(2, '0')}:00.000`));
    await insertTrades(ch.client, tables, rows, uniq('tok'));
    const bearer = await token({ orgId: org });
    const url = path(org, 'from=2024-08-08T23:00:00Z&to=2024-08-09T00:00:00Z&interval=1m');
    const plain = await get(url, bearer);
    const zipped = await get(url, bearer, { 'Accept-Encoding': 'gzip, deflate' });
    expect(zipped.headers.get('content-encoding')).toBe('gzip');
    expect(plain.headers.get('content-encoding')).toBeNull();
    const inflated = gunzipSync(Buffer.from(await zipped.arrayBuffer())).toString('utf8');
    expect(JSON.parse(inflated)).toEqual(await plain.json());
    expect(JSON.parse(inflated).data).toHaveLength(40);
  });

  it('paginates with a stable opaque cursor', async () => {
    const org = uniq('orgP');
    const rows = Array.from({ length: 5 }, (_, i) => trade(org, String(i + 1), '100.5', '2', `2024-08-08 23:5${i}:00.000`));
    await insertTrades(ch.client, tables, rows, uniq('tok'));
    const bearer = await token({ orgId: org });
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const qs: string = `from=2024-08-08T23:00:00Z&to=2024-08-09T00:00:00Z&interval=1m&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const body = (await (await get(path(org, qs), bearer)).json()) as { data: { timestamp: string }[]; meta: { nextCursor: string | null } };
      seen.push(...body.data.map((d) => d.timestamp));
      cursor = body.meta.nextCursor;
      pages++;
      // New data in an earlier window while paging neither repeats nor skips rows.
      if (pages === 1) await insertTrades(ch.client, tables, [trade(org, '99', '100.5', '1', '2024-08-08 23:50:30.000')], uniq('tok'));
    } while (cursor);
    expect(pages).toBe(3);

    // A cursor rewritten to point outside its range (or off a bucket boundary) is refused, not a 500.
    const first = (await (await get(path(org, 'from=2024-08-08T23:00:00Z&to=2024-08-09T00:00:00Z&interval=1m&limit=2'), bearer)).json()) as { meta: { nextCursor: string } };
    const payload = JSON.parse(Buffer.from(first.meta.nextCursor, 'base64url').toString('utf8')) as { b: number };
    for (const b of [1, payload.b + 1, 8_640_000_000_000_001]) {
      const forged = Buffer.from(JSON.stringify({ ...payload, b })).toString('base64url');
      await expectError(await get(path(org, `from=2024-08-08T23:00:00Z&to=2024-08-09T00:00:00Z&interval=1m&limit=2&cursor=${forged}`), bearer), 400, 'VALIDATION_ERROR');
    }
    expect(seen).toEqual(['2024-08-08T23:50:00Z', '2024-08-08T23:51:00Z', '2024-08-08T23:52:00Z', '2024-08-08T23:53:00Z', '2024-08-08T23:54:00Z']);
  });
});
