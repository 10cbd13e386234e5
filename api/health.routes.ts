import { Hono } from 'hono';
import type { AppEnv } from './context.ts';

/** A named dependency probe; throws or rejects when the dependency is not reachable. */
export type ReadinessCheck = () => Promise<void>;

const CHECK_TIMEOUT_MS = 3_000;

async function runCheck(check: ReadinessCheck): Promise<{ ok: boolean; ms: number; error?: string }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { ok: true, ms: Math.round(performance.now() - started) };
  } catch (err) {
    return { ok: false, ms: Math.round(performance.now() - started), error: err instanceof Error ? err.message : 'failed' };
  } finally {
    clearTimeout(timer);
  }
}

/** `/healthz` says the process runs; `/readyz` says every dependency answers. Neither needs a token. */
export function healthRoutes(checks: Record<string, ReadinessCheck>, isShuttingDown: () => boolean) {
  return new Hono<AppEnv>()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/readyz', async (c) => {
      const names = Object.keys(checks);
      const results = await Promise.all(names.map((n) => runCheck(checks[n] as ReadinessCheck)));
      const detail = Object.fromEntries(names.map((n, i) => [n, results[i]]));
      const ready = !isShuttingDown() && results.every((r) => r.ok);
      return c.json({ status: ready ? 'ready' : 'not_ready', shuttingDown: isShuttingDown(), checks: detail }, ready ? 200 : 503);
    });
}
