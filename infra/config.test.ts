import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('runs the embedded setup by default', () => {
    const c = loadConfig({ JWT_SECRET: 'x'.repeat(32) });
    expect(c).toMatchObject({ ROLE: 'all', PORT: 3000, KAFKA_BROKERS: ['127.0.0.1:9092'], CLICKHOUSE_URL: undefined });
  });

  it('lists every bad variable at once', () => {
    try {
      loadConfig({ PORT: 'abc', ROLE: 'web', JWT_SECRET: 'short', CLICKHOUSE_URL: 'not a url' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const text = (err as ConfigError).problems.join('\n');
      for (const v of ['PORT', 'ROLE', 'JWT_SECRET', 'CLICKHOUSE_URL']) expect(text).toContain(v);
    }
  });

  it('requires a JWT key for the API role but not for ingest', () => {
    expect(() => loadConfig({ ROLE: 'api' })).toThrow(ConfigError);
    expect(loadConfig({ ROLE: 'ingest' }).ROLE).toBe('ingest');
  });

  it.each([' ', 'abc', '70000', '-1', '1.5'])('refuses PORT=%j', (port) => {
    expect(() => loadConfig({ ROLE: 'ingest', PORT: port })).toThrow('PORT');
  });

  it('splits KAFKA_BROKERS on commas', () => {
    expect(loadConfig({ ROLE: 'ingest', KAFKA_BROKERS: 'a:9092, b:9092' }).KAFKA_BROKERS).toEqual(['a:9092', 'b:9092']);
  });
});
