import { createRemoteJWKSet, jwtVerify, errors as joseErrors, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import type { Config } from '../infra/config.ts';
import { ORG_ID_PATTERN } from '../schemas/trade-executed.ts';
import type { Principal } from './context.ts';
import { AppError } from './errors.ts';

const ClaimsSchema = z.object({
  sub: z.string().min(1).max(256),
  exp: z.number(),
  orgId: z.string().regex(ORG_ID_PATTERN),
  // Space-separated (RFC 8693) or, as several identity providers issue it, an array.
  scope: z.union([z.string().max(2048), z.array(z.string().max(128)).max(64)]).default(''),
  roles: z.union([z.array(z.string().max(128)).max(64), z.string().max(2048)]).default([]),
});

export type TokenVerifier = (token: string) => Promise<Principal>;

/**
 * Builds the JWT verifier: HS256 with JWT_SECRET, or RS256/ES256 from JWT_JWKS_URL. The
 * algorithm list is fixed per key kind, so `alg: none` and HS/RS confusion are refused.
 */
export function createTokenVerifier(
  config: Pick<Config, 'JWT_SECRET' | 'JWT_JWKS_URL' | 'JWT_ISSUER' | 'JWT_AUDIENCE' | 'JWT_CLOCK_TOLERANCE_S'>,
): TokenVerifier {
  const options = {
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    clockTolerance: config.JWT_CLOCK_TOLERANCE_S,
    requiredClaims: ['exp', 'sub'],
  };
  let verify: (token: string) => Promise<unknown>;
  if (config.JWT_JWKS_URL) {
    const jwks: JWTVerifyGetKey = createRemoteJWKSet(new URL(config.JWT_JWKS_URL));
    verify = async (token) => (await jwtVerify(token, jwks, { ...options, algorithms: ['RS256', 'ES256'] })).payload;
  } else if (config.JWT_SECRET) {
    const key = new TextEncoder().encode(config.JWT_SECRET);
    verify = async (token) => (await jwtVerify(token, key, { ...options, algorithms: ['HS256'] })).payload;
  } else {
    throw new Error('no JWT key configured: set JWT_SECRET or JWT_JWKS_URL');
  }

  // Verified tokens are remembered until they expire: dashboards send the same token with every
  // poll, and signature checks would otherwise queue on the thread pool behind ClickHouse work.
  const verified = new Map<string, { principal: Principal; expMs: number }>();
  const VERIFIED_MAX = 10_000;

  return async (token) => {
    const known = verified.get(token);
    if (known) {
      if (known.expMs > Date.now()) return known.principal;
      verified.delete(token);
    }
    let payload: unknown;
    try {
      payload = await verify(token);
    } catch (err) {
      throw new AppError('UNAUTHORIZED', describeJoseError(err));
    }
    const claims = ClaimsSchema.safeParse(payload);
    if (!claims.success) {
      const claim = String(claims.error.issues[0]?.path[0] ?? 'claims');
      throw new AppError('UNAUTHORIZED', `token claim "${claim}" is missing or malformed`);
    }
    const roles = Array.isArray(claims.data.roles) ? claims.data.roles : claims.data.roles.split(/[\s,]+/);
    const principal: Principal = {
      subject: claims.data.sub,
      orgId: claims.data.orgId,
      scopes: new Set((Array.isArray(claims.data.scope) ? claims.data.scope : claims.data.scope.split(/\s+/)).filter(Boolean)),
      roles: new Set(roles.filter(Boolean)),
    };
    if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
    verified.set(token, { principal, expMs: claims.data.exp * 1000 });
    return principal;
  };
}

/** A client-safe reason; never echoes the token. */
function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'token expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `token claim "${err.claim}" is not acceptable`;
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'token algorithm not allowed';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'token signature invalid';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'no key matches the token';
  return 'invalid token';
}

/** Reads `Authorization: Bearer <token>`; anything else is a 401. */
export function bearerToken(header: string | undefined): string {
  const match = header ? /^Bearer\s+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(header) : null;
  if (!match?.[1]) throw new AppError('UNAUTHORIZED', 'missing or malformed Authorization bearer token');
  return match[1];
}
