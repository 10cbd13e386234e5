import { describe, expect, it } from 'vitest';
import { BINANCE_FILE } from '../scripts/trade-files.ts';
import { divRound, expectedWindows, fixed, readBinanceTrades, render } from './expected-windows.ts';

// The reference figures of shared/data/SOURCES.md (spot BTCUSDT, 1-minute buckets): the
// independent checker the end-to-end tests rely on must reproduce them exactly.
const GOLDEN = [
  ['2024-08-08T23:59:00Z', 1312, '32.41946', '2000509.286525', '61707.05145999'],
  ['2024-08-09T00:00:00Z', 1824, '34.0818', '2102488.1983337', '61689.47057766'],
  ['2024-08-09T00:01:00Z', 2931, '79.69369', '4908600.9774192', '61593.34543825'],
  ['2024-08-09T00:02:00Z', 1992, '40.44064', '2493614.0265473', '61661.0920734'],
  ['2024-08-09T00:03:00Z', 1705, '37.08509', '2286174.9503532', '61646.74132794'],
  ['2024-08-09T00:04:00Z', 1461, '30.316', '1869226.8603442', '61658.09672596'],
] as const;

describe('independent window reference', () => {
  const trades = readBinanceTrades(BINANCE_FILE, (v, s, t) => v === 'spot' && s === 'BTCUSDT' && t >= Date.UTC(2024, 7, 8));
  const windows = expectedWindows(trades, 60_000);

  it.each(GOLDEN)('reproduces SOURCES.md for %s', (minute, n, volume, notional, vwap8) => {
    const w = windows.get(`${Date.parse(minute)}|BTC-USDT`)!;
    expect(w.trades).toBe(n);
    expect(w.volume).toBe(volume);
    expect(w.notional).toBe(notional);
    expect(divRound(fixed(w.notional), fixed(w.volume), 8)).toBe(vwap8);
  });

  it('renders fixed-point values without trailing zeros', () => {
    expect(render(fixed('61837.63000000'))).toBe('61837.63');
    expect(divRound(fixed('2'), fixed('3'), 4)).toBe('0.6667');
  });
});
