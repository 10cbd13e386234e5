import { randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Logger } from '../infra/logger.ts';
import type { AuditSink } from './audit.ts';
import { bearerToken, type TokenVerifier } from './auth.ts';
import type { AppEnv } from './context.ts';
import { AppError } from './errors.ts';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Takes a sane `X-Request-Id` from the caller or makes one; echoes it back. */
export function requestId(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const given = c.req.header('x-request-id');
    const id = given && REQUEST_ID.test(given) ? given : randomUUID();
    c.set('requestId', id);
    c.header('X-Request-Id', id);
    await next();
  };
}

/** A child logger per request and one line per response, without query values or headers. */
export function requestLogger(logger: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const log = logger.child({ requestId: c.get('requestId') });
    c.set('logger', log);
    await next();
    log.info(
      { method: c.req.method, path: c.req.path, status: c.res.status, durationMs: +(performance.now() - started).toFixed(2) },
      'request',
    );
  };
}

export function clientIp(c: Parameters<MiddlewareHandler<AppEnv>>[0]): string {
  try {
    return getConnInfo(c).remote.address ?? '';
  } catch {
    return '';
  }
}

/** Verifies the bearer token and stores the principal. Refusals are audited without an org. */
export function authenticate(verify: TokenVerifier, audit: AuditSink): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    try {
      c.set('principal', await verify(bearerToken(c.req.header('authorization'))));
    } catch (err) {
      if (err instanceof AppError) {
        audit.record({
          requestId: c.get('requestId'),
          orgId: c.req.param('orgId') ?? '',
          subject: '',
          action: `${c.req.method} ${c.req.routePath}`,
          resource: c.req.path,
          outcome: 'DENIED',
          reason: err.message,
          status: err.status,
          ip: clientIp(c),
        });
      }
      throw err;
    }
    await next();
  };
}

/**
 * Confines the request to the token's org: the URL's `{orgId}` must equal the token's `orgId`.
 * A mismatch is a 403 and is audited. Every access that passes is audited too.
 */
export function tenancy(audit: AuditSink): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = c.get('principal');
    const urlOrg = c.req.param('orgId') ?? '';
    const base = {
      requestId: c.get('requestId'),
      orgId: principal.orgId,
      subject: principal.subject,
      action: `${c.req.method} ${c.req.routePath}`,
      resource: c.req.path,
      ip: clientIp(c),
    };
    if (urlOrg !== principal.orgId) {
      audit.record({ ...base, outcome: 'DENIED', reason: `cross-org access to "${urlOrg.slice(0, 128)}"`, status: 403 });
      c.get('logger').warn({ subject: principal.subject, tokenOrg: principal.orgId }, 'cross-org access refused');
      throw new AppError('FORBIDDEN', 'token is not valid for this organisation');
    }
    c.set('orgId', principal.orgId);
    try {
      await next();
    } finally {
      const status = c.res.status;
      audit.record({ ...base, outcome: status === 401 || status === 403 ? 'DENIED' : 'ALLOWED', reason: '', status });
    }
  };
}

/** Requires a scope; deny by default. */
export function requireScope(scope: 'analytics:read' | 'analytics:write', audit: AuditSink): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = c.get('principal');
    if (!principal.scopes.has(scope)) {
      audit.record({
        requestId: c.get('requestId'),
        orgId: principal.orgId,
        subject: principal.subject,
        action: `${c.req.method} ${c.req.routePath}`,
        resource: c.req.path,
        outcome: 'DENIED',
        reason: `missing scope ${scope}`,
        status: 403,
        ip: clientIp(c),
      });
      throw new AppError('FORBIDDEN', `token lacks the ${scope} scope`);
    }
    await next();
  };
}
