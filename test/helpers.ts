import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { inject } from 'vitest';
import { loadConfig, REPO_ROOT, type Config } from '../infra/config.ts';
import { mintToken, type TokenClaims } from '../scripts/dev-token.ts';

export const TEST_SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
export const ISSUER = 'https://auth.test.local';
export const AUDIENCE = 'analytics-test';

/** A fresh suffix so each test names its own topic, group, org and data folder. */
export const uniq = (prefix: string) => `${prefix}_${randomBytes(4).toString('hex')}`;

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
}

/** Environment for a service under test: real Kafka and registry, embedded ClickHouse in a temp folder. */
export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    KAFKA_BROKERS: inject('kafkaBrokers'),
    SCHEMA_REGISTRY_URL: inject('schemaRegistryUrl'),
    DATA_DIR: tempDir('analytics-data'),
    JWT_SECRET: TEST_SECRET,
    JWT_ISSUER: ISSUER,
    JWT_AUDIENCE: AUDIENCE,
    TRADES_TOPIC: `${uniq('trades')}.v1`,
    KAFKA_GROUP_ID: uniq('group'),
    PORT: '0',
    LOG_LEVEL: 'warn',
    ...overrides,
  };
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig(testEnv(overrides) as NodeJS.ProcessEnv);
}

export function token(claims: Partial<TokenClaims> & { orgId: string }): Promise<string> {
  return mintToken(TEST_SECRET, { sub: 'usr_test', issuer: ISSUER, audience: AUDIENCE, scope: 'analytics:read', ...claims });
}

/** The service as its own OS process (`tsx main.ts`), so a test can kill -9 it. */
export interface ServiceProcess {
  child: ChildProcess;
  port: number;
  logs: string[];
  baseUrl: string;
}

export async function spawnService(env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'main.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`service did not start:\n${logs.slice(-30).join('\n')}`)), 120_000);
    const onLine = (buf: Buffer) => {
      for (const line of buf.toString('utf8').split('\n').filter(Boolean)) {
        logs.push(line);
        if (line.includes('"service started"')) {
          clearTimeout(timer);
          resolve(Number(JSON.parse(line).port));
        }
      }
    };
    child.stdout!.on('data', onLine);
    child.stderr!.on('data', onLine);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${code}:\n${logs.slice(-30).join('\n')}`));
    });
  });
  return { child, port, logs, baseUrl: `http://127.0.0.1:${port}` };
}

export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill(signal);
  });
}

export const requestId = () => randomUUID();
