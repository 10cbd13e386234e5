/**
 * Independent reference computation for the trade windows, straight from the raw CSV with
 * exact BigInt decimal arithmetic. It shares no code with the product: if the product's
 * SQL, decimal handling or bucketing drifts, the figures here disagree.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';

const SCALE = 24n; // enough for price (<=12 dp) x quantity (<=12 dp) without rounding
const ONE = 10n ** SCALE;

/** Parses a non-negative decimal string to a fixed-point BigInt at 24 decimals. */
export function fixed(s: string): bigint {
  const [i = '0', f = ''] = s.split('.');
  return BigInt(i) * ONE + BigInt((f + '0'.repeat(Number(SCALE))).slice(0, Number(SCALE)) || '0');
}

/** Renders a fixed-point value without trailing zeros: 61837.630 → "61837.63". */
export function render(v: bigint, scale = SCALE): string {
  const neg = v < 0n;
  const a = neg ? -v : v;
  const unit = 10n ** scale;
  const int = a / unit;
  const frac = (a % unit).toString().padStart(Number(scale), '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${int}${frac ? `.${frac}` : ''}`;
}

/** Normalises a decimal string for comparison ("34.08180000" → "34.0818"). */
export function norm(s: string): string {
  return render(fixed(s));
}

/** a / b rounded half away from zero to `digits` decimals, both fixed at SCALE. */
export function divRound(a: bigint, b: bigint, digits: number): string {
  const unit = 10n ** BigInt(digits);
  const q2 = (a * unit * 2n) / b; // twice the quotient, truncated
  const q = (q2 + 1n) / 2n;
  return render(q, BigInt(digits));
}

export interface RawTrade {
  market: string;
  tradeId: bigint;
  timeMs: number;
  price: string;
  qty: string;
  side: 'BUY' | 'SELL';
}

export interface ExpectedWindow {
  trades: number;
  volume: string;
  notional: string;
  vwap: string;
  open: string;
  high: string;
  low: string;
  close: string;
  buyVolume: string;
  sellVolume: string;
}

/** Reads Binance spot/USD-M rows of the data file (COIN-M needs contract maths, left out here). */
export function readBinanceTrades(file: string, keep: (venue: string, symbol: string, timeMs: number) => boolean): RawTrade[] {
  const text = zlib.gunzipSync(fs.readFileSync(file)).toString('utf8');
  const lines = text.split('\n');
  const header = lines[0]!.split(',');
  const col = (name: string) => header.indexOf(name);
  const [cVenue, cSymbol, cId, cPrice, cQty, cTime, cSide] = ['venue', 'symbol', 'trade_id', 'price', 'qty', 'trade_time_ms', 'taker_side'].map(col);
  const out: RawTrade[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (!lines[i]) continue;
    const c = lines[i]!.split(',');
    const venue = c[cVenue!]!;
    const symbol = c[cSymbol!]!;
    const timeMs = Number(c[cTime!]);
    if (venue === 'coinm_futures' || !keep(venue, symbol, timeMs)) continue;
    const base = symbol.replace(/USDT$/, '');
    out.push({
      market: venue === 'usdm_futures' ? `${base}-USDT-PERP` : `${base}-USDT`,
      tradeId: BigInt(c[cId!]!),
      timeMs,
      price: c[cPrice!]!,
      qty: c[cQty!]!,
      side: c[cSide!] === 'sell' ? 'SELL' : 'BUY',
    });
  }
  return out;
}

/** Buckets are UTC-aligned; returns Map<`${bucketMs}|${market}`, figures>. */
export function expectedWindows(trades: RawTrade[], bucketMs: number): Map<string, ExpectedWindow> {
  interface Acc {
    n: number;
    vol: bigint;
    notional: bigint;
    buy: bigint;
    sell: bigint;
    hi: bigint;
    lo: bigint;
    first: RawTrade;
    last: RawTrade;
  }
  const before = (a: RawTrade, b: RawTrade) => a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.tradeId < b.tradeId);
  const acc = new Map<string, Acc>();
  for (const t of trades) {
    const key = `${Math.floor(t.timeMs / bucketMs) * bucketMs}|${t.market}`;
    const p = fixed(t.price);
    const q = fixed(t.qty);
    const a = acc.get(key) ?? { n: 0, vol: 0n, notional: 0n, buy: 0n, sell: 0n, hi: p, lo: p, first: t, last: t };
    a.n++;
    a.vol += q;
    a.notional += (p * q) / ONE; // exact: both inputs have <= 12 decimals
    if (t.side === 'BUY') a.buy += q;
    else a.sell += q;
    if (p > a.hi) a.hi = p;
    if (p < a.lo) a.lo = p;
    if (before(t, a.first)) a.first = t;
    if (before(a.last, t)) a.last = t;
    acc.set(key, a);
  }
  const out = new Map<string, ExpectedWindow>();
  for (const [k, a] of acc) {
    out.set(k, {
      trades: a.n,
      volume: render(a.vol),
      notional: render(a.notional),
      vwap: divRound(a.notional, a.vol, 12),
      open: norm(a.first.price),
      high: render(a.hi),
      low: render(a.lo),
      close: norm(a.last.price),
      buyVolume: render(a.buy),
      sellVolume: render(a.sell),
    });
  }
  return out;
}
