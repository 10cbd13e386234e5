import { describe, expect, it } from 'vitest';
import { loadMigrations, parseMigration } from './migrate.ts';

describe('migrations', () => {
  it('numbers files and substitutes only the checked database name', () => {
    const m = parseMigration('007_x.sql', '-- c\nCREATE TABLE {db}.t (a UInt8) ENGINE = Memory;\nSELECT 1;\n', 'analytics');
    expect(m).toEqual({ version: 7, name: 'x', statements: ['CREATE TABLE analytics.t (a UInt8) ENGINE = Memory', 'SELECT 1'] });
  });

  it('refuses a database name that is not an identifier', () => {
    expect(() => parseMigration('001_x.sql', 'SELECT 1', 'a; DROP TABLE x')).toThrow('invalid database name');
  });

  it('ships forward-only, uniquely numbered migrations', async () => {
    const ms = await loadMigrations('analytics');
    const versions = ms.map((m) => m.version);
    expect(versions).toEqual([...new Set(versions)].sort((a, b) => a - b));
    expect(ms.every((m) => m.statements.every((s) => /IF NOT EXISTS/.test(s)))).toBe(true);
  });
});
