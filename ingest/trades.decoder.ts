import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { TradeExecutedV1, type TradeExecuted } from '../schemas/trade-executed.ts';

/** A message either decodes to a value or carries the reason it goes to the dead-letter topic. */
export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

const MAGIC_BYTE = 0;
const JSON_OPEN_BRACE = 0x7b;

/** An HTTP answer from the registry carries `status`; avsc's decoding errors do not. */
function registryStatus(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

function isNetworkError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

/**
 * Decodes a `TradeExecuted` from Confluent-framed Avro (schema fetched by id, cached by the client)
 * or from UTF-8 JSON, then validates it. Never throws for bad input: only an unreachable registry
 * throws, so the batch is retried rather than dead-lettered.
 */
export function createTradeDecoder(registry: SchemaRegistry) {
  return async function decodeTrade(value: Buffer | null): Promise<Decoded<TradeExecuted>> {
    if (!value || value.length === 0) return { ok: false, reason: 'empty message' };
    let candidate: unknown;
    const first = value[0];
    if (first === MAGIC_BYTE) {
      if (value.length < 6) return { ok: false, reason: 'Avro frame shorter than its 5-byte header' };
      try {
        candidate = await registry.decode(value);
      } catch (err) {
        const status = registryStatus(err);
        if (status === 404) return { ok: false, reason: `unknown schema id ${value.readUInt32BE(1)}` };
        // Any other registry answer (or none) is the registry's trouble, not the message's: retry.
        if (status !== undefined || isNetworkError(err)) throw err;
        return { ok: false, reason: `Avro decoding failed: ${(err as Error).message?.slice(0, 200) ?? 'unknown error'}` };
      }
    } else if (first === JSON_OPEN_BRACE) {
      try {
        candidate = JSON.parse(value.toString('utf8'));
      } catch (err) {
        return { ok: false, reason: `invalid JSON: ${(err as Error).message.slice(0, 200)}` };
      }
    } else {
      return { ok: false, reason: `unknown encoding: first byte 0x${first?.toString(16).padStart(2, '0')} is neither the Avro magic byte 0x00 nor a JSON object` };
    }
    const parsed = TradeExecutedV1.safeParse(candidate);
    if (!parsed.success) {
      return {
        ok: false,
        reason: `invalid TradeExecuted: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'event'}: ${i.message}`).join('; ').slice(0, 500)}`,
      };
    }
    return { ok: true, value: parsed.data };
  };
}
