import { afterAll, describe, expect, it, vi } from 'vitest';
import { createKafka } from '../infra/kafka.ts';
import { createLogger } from '../infra/logger.ts';
import { createSchemaRegistry } from '../infra/schema-registry.ts';
import { BINANCE_FILE, tradeEvents } from '../scripts/trade-files.ts';
import { publishTrades } from '../scripts/trade-publisher.ts';
import { expectedWindows, norm, readBinanceTrades, type RawTrade } from './expected-windows.ts';
import { spawnService, stopProcess, testConfig, testEnv, token, uniq, type ServiceProcess } from './helpers.ts';

/** The slice: the complete 2024-08-08/09 spot tapes of BTCUSDT and ETHUSDT (34,419 real trades). */
const inSlice = (venue: string, symbol: string, timeMs: number) =>
  venue === 'spot' && (symbol === 'BTCUSDT' || symbol === 'ETHUSDT') && timeMs >= Date.UTC(2024, 7, 8);
const INTERVALS = { '1m': 60_000, '5m': 300_000, '1h': 3_600_000, '1d': 86_400_000 } as const;

const children: ServiceProcess[] = [];
afterAll(async () => {
  for (const c of children) await stopProcess(c.child, 'SIGKILL');
});

interface ApiWindow {
  timestamp: string;
  market: string;
  trades: number;
  volume: string;
  notional: string;
  notionalUSD: string;
  vwap: string;
  open: string;
  high: string;
  low: string;
  close: string;
  buyVolume: string;
  sellVolume: string;
}

async function fetchAll(base: string, orgId: string, interval: string, bearer: string): Promise<ApiWindow[]> {
  const out: ApiWindow[] = [];
  let cursor: string | null = null;
  do {
    const qs = new URLSearchParams({ from: '2024-08-08', to: '2024-08-10', interval, limit: '50' });
    if (cursor) qs.set('cursor', cursor);
    const res = await fetch(`${base}/orgs/${orgId}/analytics/metrics/trading?${qs}`, { headers: { Authorization: `Bearer ${bearer}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: ApiWindow[]; meta: { nextCursor: string | null } };
    out.push(...body.data);
    cursor = body.meta.nextCursor;
  } while (cursor);
  return out;
}

async function totalTrades(base: string, orgId: string, bearer: string): Promise<number> {
  const rows = await fetchAll(base, orgId, '1d', bearer);
  return rows.reduce((n, r) => n + r.trades, 0);
}

function publish(env: Record<string, string>, orgs: string[], ratePerSec?: number) {
  const config = testConfig(env);
  const logger = createLogger({ LOG_LEVEL: 'warn' });
  return publishTrades(
    { kafka: createKafka(config, logger), registry: createSchemaRegistry(config) },
    tradeEvents(BINANCE_FILE, { orgs, filter: (r) => inSlice(r.venue!, r.symbol!, Number(r.trade_time_ms)) }),
    { topic: config.TRADES_TOPIC, format: 'avro', ratePerSec },
  );
}

/** Every window of every interval, for each org, equals the figures computed from the file. */
async function expectExactWindows(svc: ServiceProcess, orgs: string[], perOrg: Map<string, RawTrade[]>) {
  for (const orgId of orgs) {
    const bearer = await token({ orgId });
    for (const [interval, ms] of Object.entries(INTERVALS)) {
      const expected = expectedWindows(perOrg.get(orgId)!, ms);
      const actual = await fetchAll(svc.baseUrl, orgId, interval, bearer);
      expect(actual.length, `${orgId} ${interval} window count`).toBe(expected.size);
      for (const w of actual) {
        const e = expected.get(`${Date.parse(w.timestamp)}|${w.market}`);
        expect(e, `${orgId} ${interval} ${w.timestamp} ${w.market} expected`).toBeDefined();
        expect(
          {
            trades: w.trades,
            volume: norm(w.volume),
            notional: norm(w.notional),
            vwap: norm(w.vwap),
            open: norm(w.open),
            high: norm(w.high),
            low: norm(w.low),
            close: norm(w.close),
            buyVolume: norm(w.buyVolume),
            sellVolume: norm(w.sellVolume),
          },
          `${orgId} ${interval} ${w.timestamp} ${w.market}`,
        ).toEqual(e);
        // USDT-quoted: the USD notional is price x quantity.
        expect(norm(w.notionalUSD)).toBe(e!.notional);
      }
    }
  }
}

function slicePerOrg(orgs: string[]): Map<string, RawTrade[]> {
  const all = readBinanceTrades(BINANCE_FILE, inSlice);
  const perOrg = new Map(orgs.map((o) => [o, [] as RawTrade[]]));
  all.forEach((t, i) => perOrg.get(orgs[i % orgs.length]!)!.push(t));
  return perOrg;
}

describe('trade pipeline on real Binance trades (Avro through the registry and Kafka)', () => {
  it('rolls every 1m, 5m, 1h and 1d window to the exact figures of the raw file, per org', async () => {
    const orgs = [uniq('orgA'), uniq('orgB')];
    const perOrg = slicePerOrg(orgs);
    const env = testEnv();
    const svc = await spawnService(env);
    children.push(svc);
    const published = await publish(env, orgs);
    expect(published.sent).toBe(34_419);

    const bearerA = await token({ orgId: orgs[0]! });
    await vi.waitFor(async () => expect(await totalTrades(svc.baseUrl, orgs[0]!, bearerA)).toBe(perOrg.get(orgs[0]!)!.length), {
      timeout: 90_000,
      interval: 500,
    });
    const bearerB = await token({ orgId: orgs[1]! });
    await vi.waitFor(async () => expect(await totalTrades(svc.baseUrl, orgs[1]!, bearerB)).toBe(perOrg.get(orgs[1]!)!.length), {
      timeout: 30_000,
      interval: 500,
    });
    await expectExactWindows(svc, orgs, perOrg);

    // Replaying the same events (upstream retries, new offsets) changes nothing.
    await publish(env, orgs);
    await vi.waitFor(
      async () => {
        const res = await fetch(`${svc.baseUrl}/readyz`);
        expect(res.status).toBe(200);
      },
      { timeout: 10_000 },
    );
    await vi.waitFor(async () => {
      const lag = await consumerLag(env);
      expect(lag).toBe(0);
    }, { timeout: 90_000, interval: 500 });
    expect(await totalTrades(svc.baseUrl, orgs[0]!, bearerA)).toBe(perOrg.get(orgs[0]!)!.length);

    expect(await stopProcess(svc.child, 'SIGTERM')).toBe(0);
  });

  it('counts every trade once when the consumer is killed with SIGKILL mid-stream and restarted', async () => {
    const orgs = [uniq('orgK')];
    const perOrg = slicePerOrg(orgs);
    const env = testEnv();
    const first = await spawnService(env);
    children.push(first);
    const publishing = publish(env, orgs, 8_000);
    const bearer = await token({ orgId: orgs[0]! });
    // Kill once part of the stream is stored, while the rest is still arriving.
    await vi.waitFor(async () => expect(await totalTrades(first.baseUrl, orgs[0]!, bearer)).toBeGreaterThan(5_000), {
      timeout: 60_000,
      interval: 100,
    });
    const storedAtKill = await totalTrades(first.baseUrl, orgs[0]!, bearer);
    await stopProcess(first.child, 'SIGKILL');
    expect(storedAtKill, 'the kill must land mid-stream').toBeLessThan(34_419);
    const second = await spawnService(env);
    children.push(second);
    await publishing;
    await vi.waitFor(async () => expect(await totalTrades(second.baseUrl, orgs[0]!, bearer)).toBe(34_419), {
      timeout: 150_000,
      interval: 500,
    });
    await expectExactWindows(second, orgs, perOrg);
    expect(await stopProcess(second.child, 'SIGTERM')).toBe(0);
  });
});

/** Messages on the trades topic not yet committed by the service's group. */
async function consumerLag(env: Record<string, string>): Promise<number> {
  const config = testConfig(env);
  const admin = createKafka(config, createLogger({ LOG_LEVEL: 'silent' })).admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(config.TRADES_TOPIC);
    const [committed] = await admin.fetchOffsets({ groupId: config.KAFKA_GROUP_ID, topics: [config.TRADES_TOPIC] });
    let lag = 0;
    for (const p of ends) {
      const c = committed?.partitions.find((x) => x.partition === p.partition);
      const at = c && Number(c.offset) >= 0 ? Number(c.offset) : 0;
      lag += Number(p.high) - at;
    }
    return lag;
  } finally {
    await admin.disconnect();
  }
}
