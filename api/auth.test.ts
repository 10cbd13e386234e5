import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { bearerToken, createTokenVerifier } from './auth.ts';

const secret = 'unit-test-secret-unit-test-secret-0123';
const config = { JWT_SECRET: secret, JWT_JWKS_URL: undefined, JWT_ISSUER: 'iss', JWT_AUDIENCE: 'aud', JWT_CLOCK_TOLERANCE_S: 0 };
const sign = (claims: Record<string, unknown>, expSeconds: number) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('usr_1')
    .setIssuer('iss')
    .setAudience('aud')
    .setExpirationTime(Math.floor(Date.now() / 1000) + expSeconds)
    .sign(new TextEncoder().encode(secret));

describe('token verifier', () => {
  it('reads org, scopes and roles (array or string) from the claims', async () => {
    const verify = createTokenVerifier(config);
    const p = await verify(await sign({ orgId: 'ORG1', scope: 'analytics:read analytics:write', roles: 'AnalyticsViewer,PiiViewer' }, 60));
    expect(p.orgId).toBe('ORG1');
    expect([...p.scopes]).toEqual(['analytics:read', 'analytics:write']);
    expect([...p.roles]).toEqual(['AnalyticsViewer', 'PiiViewer']);
  });

  it('stops accepting a remembered token once it expires', async () => {
    const verify = createTokenVerifier(config);
    const token = await sign({ orgId: 'ORG1', scope: 'analytics:read' }, 1);
    await expect(verify(token)).resolves.toMatchObject({ orgId: 'ORG1' });
    await new Promise((r) => setTimeout(r, 2_100));
    await expect(verify(token)).rejects.toMatchObject({ code: 'UNAUTHORIZED', message: 'token expired' });
  });

  it.each(['', 'Bearer', 'Basic abc', 'Bearer a b', 'bearer  '])('refuses the Authorization header %j', (h) => {
    expect(() => bearerToken(h)).toThrow('bearer token');
  });
});
