import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** The Avro schema of `TradeExecuted` v1, as registered in the schema registry. */
export const TRADE_EXECUTED_V1_AVSC: string = readFileSync(new URL('./trade-executed.v1.avsc', import.meta.url), 'utf8');
export const TRADE_EXECUTED_V1_SUBJECT = 'exchange.trades.v1-value';

/** Digits after the point that prices and quantities may carry (the raw table's scale). */
export const DECIMAL_SCALE_MAX = 12;
/** At most 15 integer digits: sums of many maximal values still fit the window columns' 26. */
export const INTEGER_DIGITS_MAX = 15;
const DECIMAL = /^(?:0|[1-9]\d{0,14})(?:\.\d{1,12})?$/;
const EPOCH_MS = /^\d{10,16}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|\+00:00)$/;
/** `BASE-QUOTE` or `BASE-QUOTE-SUFFIX` in capitals; the API accepts the same shape in `markets`. */
export const MARKET_PATTERN = /^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}(?:-[A-Z0-9]{1,20})?$/;
/** Tenant ids, in events and in tokens alike. */
export const ORG_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MARKET = MARKET_PATTERN;
const ID = /^[\x21-\x7e]{1,128}$/;

/** Parses `executedAt`: ISO-8601 UTC (`...Z`) or epoch milliseconds; returns epoch ms or null. */
export function parseExecutedAt(value: string | number): number | null {
  const s = String(value).trim();
  let ms: number;
  if (EPOCH_MS.test(s)) ms = Number(s);
  else if (ISO_UTC.test(s)) ms = Date.parse(s);
  else return null;
  // Between 2000 and 2100: anything else is a unit mistake (seconds, microseconds) or garbage.
  if (!Number.isFinite(ms) || ms < 946_684_800_000 || ms >= 4_102_444_800_000) return null;
  return ms;
}

const decimalString = (what: string) =>
  z
    .string({ message: `${what} must be a decimal string` })
    .refine((v) => DECIMAL.test(v), { message: `${what} must be a decimal string with at most ${INTEGER_DIGITS_MAX} integer digits and ${DECIMAL_SCALE_MAX} decimals` });

/**
 * Runtime validator for `TradeExecuted` v1 (JSON or decoded Avro). Output is normalised:
 * decimals as strings, `executedAtMs` as epoch milliseconds.
 */
export const TradeExecutedV1 = z
  .object({
    eventId: z.string().regex(ID, 'eventId must be 1-128 printable characters'),
    orgId: z.string().regex(ORG_ID_PATTERN, 'orgId must be 1-128 letters, digits, ".", "_" or "-"'),
    market: z.string().regex(MARKET, 'market must look like BASE-QUOTE or BASE-QUOTE-SUFFIX in capitals'),
    tradeId: z.string().regex(ID, 'tradeId must be 1-128 printable characters'),
    price: decimalString('price').refine((v) => !/^0(?:\.0+)?$/.test(v), { message: 'price must be > 0' }),
    quantity: decimalString('quantity').refine((v) => !/^0(?:\.0+)?$/.test(v), { message: 'quantity must be > 0' }),
    side: z.enum(['BUY', 'SELL'], { message: 'side must be BUY or SELL' }),
    executedAt: z.union([z.string(), z.number()]),
    notionalUsd: decimalString('notionalUsd').nullish(),
  })
  .transform((e, ctx) => {
    const executedAtMs = parseExecutedAt(e.executedAt);
    if (executedAtMs === null) {
      ctx.addIssue({ code: 'custom', path: ['executedAt'], message: 'executedAt must be ISO-8601 UTC or epoch milliseconds' });
      return z.NEVER;
    }
    return { ...e, executedAtMs, notionalUsd: e.notionalUsd ?? null };
  });

export type TradeExecuted = z.infer<typeof TradeExecutedV1>;
/** The wire shape a producer sends. */
export type TradeExecutedInput = z.input<typeof TradeExecutedV1>;
