import { Hono } from 'hono';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Tables } from '../aggregators/tables.ts';
import type { Logger } from '../infra/logger.ts';
import type { AuditSink } from './audit.ts';
import type { TokenVerifier } from './auth.ts';
import type { AppEnv } from './context.ts';
import { AppError, type ErrorBody } from './errors.ts';
import { healthRoutes, type ReadinessCheck } from './health.routes.ts';
import { authenticate, requestId, requestLogger, requireScope, tenancy } from './middleware.ts';
import type { QueryCache } from './query-cache.ts';
import { tradingMetricsRoutes } from './trading-metrics.routes.ts';

export interface AppDeps {
  ch: ClickHouseClient;
  /** Clients for request queries; defaults to `ch`. */
  pickClient?: () => ClickHouseClient;
  tables: Tables;
  logger: Logger;
  verifyToken: TokenVerifier;
  audit: AuditSink;
  cache: QueryCache;
  readiness: Record<string, ReadinessCheck>;
  isShuttingDown: () => boolean;
  metricsLimitMax: number;
}

/** Where org routes answer: the spec's path and the production prefix. */
export const ORG_PREFIXES = ['/orgs/:orgId/analytics', '/v1/analytics/orgs/:orgId/analytics'] as const;

/**
 * The HTTP app. Middleware reads in request order: request id, logging, then per org route:
 * authentication, tenancy (URL org = token org, audited), scope, route.
 */
export function createApp(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  app.use('*', requestId());
  app.use('*', requestLogger(deps.logger));
  app.route('/', healthRoutes(deps.readiness, deps.isShuttingDown));

  const org = new Hono<AppEnv>();
  org.use('*', authenticate(deps.verifyToken, deps.audit));
  org.use('*', tenancy(deps.audit));
  org.get('/metrics/*', requireScope('analytics:read', deps.audit));
  org.route('/', tradingMetricsRoutes({ pickClient: deps.pickClient ?? (() => deps.ch), tables: deps.tables, cache: deps.cache, limitMax: deps.metricsLimitMax }));
  for (const prefix of ORG_PREFIXES) app.route(prefix, org);

  app.notFound((c) => c.json({ code: 'NOT_FOUND', message: 'no such route' } satisfies ErrorBody, 404));
  app.onError((err, c) => {
    if (err instanceof AppError) {
      for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
      return c.json({ code: err.code, message: err.message } satisfies ErrorBody, err.status);
    }
    (c.get('logger') ?? deps.logger).error({ err }, 'unhandled error');
    return c.json({ code: 'INTERNAL_ERROR', message: 'internal error' } satisfies ErrorBody, 500);
  });
  return app;
}
