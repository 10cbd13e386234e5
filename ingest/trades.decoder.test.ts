import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { describe, expect, it } from 'vitest';
import { createTradeDecoder } from './trades.decoder.ts';

// JSON and framing paths never reach the registry; the Avro paths are covered by the
// integration test against the real registry (ingest/trades.consumer.int.test.ts).
const unreachable = {
  decode: () => Promise.reject(new Error('the registry must not be called on this path')),
} as unknown as SchemaRegistry;
const decode = createTradeDecoder(unreachable);

const event = {
  eventId: 'e1',
  orgId: 'ORG123',
  market: 'ETH-USDT',
  tradeId: '1',
  price: '2680.11',
  quantity: '0.0521',
  side: 'SELL',
  executedAt: '2024-08-08T23:54:15.611Z',
};

describe('trade decoder', () => {
  it('decodes a UTF-8 JSON event', async () => {
    const d = await decode(Buffer.from(JSON.stringify(event)));
    expect(d).toMatchObject({ ok: true, value: { market: 'ETH-USDT', quantity: '0.0521' } });
  });

  it.each([
    ['an empty message', Buffer.alloc(0), 'empty message'],
    ['bad JSON', Buffer.from('{"eventId": '), 'invalid JSON'],
    ['a wrong magic byte', Buffer.from([1, 0, 0, 0, 1, 2, 3]), 'unknown encoding: first byte 0x01'],
    ['a truncated Avro frame', Buffer.from([0, 0, 0]), 'shorter than its 5-byte header'],
    ['a missing field', Buffer.from(JSON.stringify({ ...event, tradeId: undefined })), 'tradeId'],
    ['a zero quantity', Buffer.from(JSON.stringify({ ...event, quantity: '0' })), 'quantity must be > 0'],
    ['a non-numeric price', Buffer.from(JSON.stringify({ ...event, price: 'NaN' })), 'price must be a decimal string'],
    ['an unknown side', Buffer.from(JSON.stringify({ ...event, side: 'SHORT' })), 'side must be BUY or SELL'],
    ['an unparseable timestamp', Buffer.from(JSON.stringify({ ...event, executedAt: '08/08/2024' })), 'executedAt'],
    ['a JSON array', Buffer.from('[1,2]'), 'unknown encoding'],
  ])('dead-letters %s with a reason', async (_label, bytes, reason) => {
    const d = await decode(bytes);
    expect(d.ok).toBe(false);
    expect(d.ok ? '' : d.reason).toContain(reason);
  });
});
