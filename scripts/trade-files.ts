import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import zlib from 'node:zlib';
import type { TradeExecutedInput } from '../schemas/trade-executed.ts';
import { REPO_ROOT } from '../infra/config.ts';

/** Where the real market data lives (see `shared/data/SOURCES.md`): `../shared/data` beside the clone, or TRADE_DATA_DIR. */
export const DATA_DIR = process.env.TRADE_DATA_DIR ?? path.resolve(REPO_ROOT, '..', 'shared', 'data');
export const BINANCE_FILE = path.join(DATA_DIR, 'binance_trades_hftbacktest.csv.gz');
export const LEAN_FILE = path.join(DATA_DIR, 'lean_equity_trade_ticks_AIG_BAC_IBM_2013-10-07_to_11.csv.gz');

/** Fails with a message that says where the data was looked for and how to point elsewhere. */
export function assertDataFile(file: string): void {
  if (!fs.existsSync(file)) {
    throw new Error(`trade data not found: ${file} (the real data files live in ../shared/data beside the repository; set TRADE_DATA_DIR to the folder that holds them)`);
  }
}

/** Rows of a gzip CSV file with a header, as objects keyed by column name. */
export async function* csvRows(file: string): AsyncGenerator<Record<string, string>> {
  assertDataFile(file);
  const lines = readline.createInterface({ input: fs.createReadStream(file).pipe(zlib.createGunzip()), crlfDelay: Infinity });
  let header: string[] | null = null;
  for await (const line of lines) {
    if (!line) continue;
    const cells = line.split(',');
    if (!header) {
      header = cells;
      continue;
    }
    const row: Record<string, string> = {};
    for (let i = 0; i < header.length; i++) row[header[i]!] = cells[i] ?? '';
    yield row;
  }
}

/** COIN-M contract sizes in USD (Binance contract specs). */
const COINM_CONTRACT_USD: Record<string, bigint> = { BTCUSD_PERP: 100n, ETHUSD_PERP: 10n };

/** `BTCUSDT` spot → `BTC-USDT`; USD-M → `BTC-USDT-PERP`; COIN-M `BTCUSD_PERP` → `BTC-USD-PERP`. */
export function binanceMarket(venue: string, symbol: string): string {
  if (venue === 'coinm_futures') return `${symbol.replace(/USD_PERP$/, '')}-USD-PERP`;
  const quote = ['USDT', 'USDC', 'BUSD', 'USD', 'BTC', 'ETH'].find((q) => symbol.endsWith(q)) ?? 'USDT';
  const base = symbol.slice(0, symbol.length - quote.length);
  return venue === 'usdm_futures' ? `${base}-${quote}-PERP` : `${base}-${quote}`;
}

/** a / b for positive decimal strings, rounded half up to `scale` digits. */
function divideDecimal(a: bigint, aScale: number, b: bigint, bScale: number, scale: number): string {
  // value = (a / 10^aScale) / (b / 10^bScale) = a * 10^bScale / (b * 10^aScale)
  const num = a * 10n ** BigInt(bScale + scale) * 2n;
  const den = b * 10n ** BigInt(aScale);
  const q = (num / den + 1n) / 2n;
  const s = q.toString().padStart(scale + 1, '0');
  return `${s.slice(0, -scale)}.${s.slice(-scale)}`;
}

function decimalParts(s: string): [bigint, number] {
  const [i = '0', f = ''] = s.split('.');
  return [BigInt(i + f), f.length];
}

export interface MappedTrade {
  event: TradeExecutedInput;
  key: string;
}

/**
 * Maps a row of the Binance file to `TradeExecuted`. Event ids are deterministic, so replaying
 * the same file twice counts each trade once. COIN-M quantities are contracts: USD notional is
 * contracts x contract size (exact) and base quantity is that over the price (12 decimals).
 */
export function mapBinanceRow(row: Record<string, string>, orgId: string, runId = ''): MappedTrade {
  const venue = row.venue ?? '';
  const symbol = row.symbol ?? '';
  const market = binanceMarket(venue, symbol);
  let quantity = row.qty ?? '';
  let notionalUsd: string | null = null;
  const contractUsd = COINM_CONTRACT_USD[symbol];
  if (venue === 'coinm_futures' && contractUsd) {
    const usd = BigInt(quantity) * contractUsd;
    notionalUsd = usd.toString();
    const [p, ps] = decimalParts(row.price ?? '1');
    quantity = divideDecimal(usd, 0, p, ps, 12);
  }
  return {
    key: market,
    event: {
      eventId: `${runId}binance-${venue}-${symbol}-${row.trade_id}`,
      orgId,
      market,
      tradeId: row.trade_id ?? '',
      price: row.price ?? '',
      quantity,
      side: row.taker_side === 'sell' ? 'SELL' : 'BUY',
      executedAt: new Date(Number(row.trade_time_ms)).toISOString(),
      notionalUsd,
    },
  };
}

/**
 * Maps a row of the LEAN US-equity file. The consolidated tape has no aggressor side, so the
 * tick rule supplies one: an uptick is a buy, a downtick a sell, an unchanged price repeats the last.
 */
export function createLeanMapper() {
  const last = new Map<string, { price: string; side: 'BUY' | 'SELL' }>();
  return (row: Record<string, string>, orgId: string, runId = ''): MappedTrade => {
    const symbol = row.symbol ?? '';
    const price = row.price ?? '';
    const prev = last.get(symbol);
    let side: 'BUY' | 'SELL' = prev?.side ?? 'BUY';
    if (prev && price !== prev.price) side = Number(price) > Number(prev.price) ? 'BUY' : 'SELL';
    last.set(symbol, { price, side });
    const market = `${symbol}-USD`;
    const tradeId = `${row.trade_date_et}-${row.seq_in_day}`;
    return {
      key: market,
      event: {
        eventId: `${runId}lean-${symbol}-${tradeId}`,
        orgId,
        market,
        tradeId,
        price,
        quantity: row.qty ?? '',
        side,
        executedAt: new Date(Number(row.ts_utc_ms)).toISOString(),
        notionalUsd: null,
      },
    };
  };
}

export type TradeFileKind = 'binance' | 'lean';

export function kindOf(file: string): TradeFileKind {
  const base = path.basename(file);
  if (base.startsWith('binance')) return 'binance';
  if (base.startsWith('lean')) return 'lean';
  throw new Error(`unknown trade file ${base}: expected one of the binance_* or lean_* files in shared/data`);
}

export interface ReadOptions {
  orgs: string[];
  limit?: number;
  runId?: string;
  /** Keep only rows for which this returns true (raw CSV row). */
  filter?: (row: Record<string, string>) => boolean;
}

/** The trades of a real data file as events, assigned round-robin to the given orgs. */
export async function* tradeEvents(file: string, opts: ReadOptions): AsyncGenerator<MappedTrade> {
  const kind = kindOf(file);
  const lean = createLeanMapper();
  let n = 0;
  for await (const row of csvRows(file)) {
    if (opts.filter && !opts.filter(row)) continue;
    if (opts.limit !== undefined && n >= opts.limit) return;
    const org = opts.orgs[n % opts.orgs.length]!;
    n++;
    yield kind === 'binance' ? mapBinanceRow(row, org, opts.runId) : lean(row, org, opts.runId);
  }
}
