/**
 * Mints a development JWT signed with JWT_SECRET (HS256), for curl and the demo.
 *   npm run token -- [--org ORG123] [--sub usr_dev] [--scope "analytics:read analytics:write"] [--ttl 3600]
 */
import { SignJWT } from 'jose';
import { parseArgs } from 'node:util';

export interface TokenClaims {
  orgId: string;
  sub: string;
  scope?: string;
  roles?: string[];
  ttlSeconds?: number;
  issuer: string;
  audience: string;
}

export async function mintToken(secret: string, c: TokenClaims): Promise<string> {
  return new SignJWT({ orgId: c.orgId, scope: c.scope ?? 'analytics:read', roles: c.roles ?? ['AnalyticsViewer'] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(c.sub)
    .setIssuer(c.issuer)
    .setAudience(c.audience)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (c.ttlSeconds ?? 3600))
    .sign(new TextEncoder().encode(secret));
}

async function main() {
  const { values } = parseArgs({
    options: {
      org: { type: 'string', default: 'ORG123' },
      sub: { type: 'string', default: 'usr_dev' },
      scope: { type: 'string', default: 'analytics:read analytics:write' },
      roles: { type: 'string', default: 'AnalyticsViewer' },
      ttl: { type: 'string', default: '86400' },
    },
  });
  const ttl = Number(values.ttl);
  if (!Number.isInteger(ttl)) throw new Error('--ttl must be a whole number of seconds (a negative one as --ttl=-10)');
  const secret = process.env.JWT_SECRET;
  if (!secret) throw new Error('JWT_SECRET is not set (the demo writes one to .local/dev.env)');
  const token = await mintToken(secret, {
    orgId: values.org,
    sub: values.sub,
    scope: values.scope,
    roles: values.roles.split(',').filter(Boolean),
    ttlSeconds: ttl,
    issuer: process.env.JWT_ISSUER ?? 'https://auth.exchange.local',
    audience: process.env.JWT_AUDIENCE ?? 'analytics-reports',
  });
  process.stdout.write(`${token}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
