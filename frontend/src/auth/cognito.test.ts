import { describe, expect, it } from 'vitest';
import { AuthError, CognitoClient, jwtExpiry } from './cognito';
import { fakeFetch, fakeJwt, json } from '../test/helpers';

const idToken = fakeJwt({ sub: 'u1', email: 'doc@example.org', exp: 2_000_000_000 });

describe('CognitoClient', () => {
  it('signs in with USER_PASSWORD_AUTH where config asks for it', async () => {
    const f = fakeFetch(() => json({ AuthenticationResult: { IdToken: idToken, AccessToken: 'acc', RefreshToken: 'ref', ExpiresIn: 3600 } }));
    const c = new CognitoClient({ endpoint: 'http://127.0.0.1:5000/', clientId: 'client-1', passwordFlow: 'USER_PASSWORD_AUTH', fetchImpl: f.fetch });
    const t = await c.signIn('doc@example.org', 'pw');
    expect(t).toEqual({ idToken, accessToken: 'acc', refreshToken: 'ref', expiresAt: 2_000_000_000_000 });
    const { url, init } = f.calls[0];
    expect(url).toBe('http://127.0.0.1:5000/');
    expect((init.headers as Record<string, string>)['X-Amz-Target']).toBe('AWSCognitoIdentityProviderService.InitiateAuth');
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/x-amz-json-1.1');
    expect(JSON.parse(init.body as string)).toEqual({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: 'client-1', AuthParameters: { USERNAME: 'doc@example.org', PASSWORD: 'pw' } });
  });

  it('refreshes with REFRESH_TOKEN_AUTH and keeps the refresh token', async () => {
    const f = fakeFetch(() => json({ AuthenticationResult: { IdToken: idToken, AccessToken: 'acc2' } }));
    const c = new CognitoClient({ endpoint: 'http://idp/', clientId: 'c', passwordFlow: 'USER_PASSWORD_AUTH', fetchImpl: f.fetch });
    const t = await c.refresh('ref-1');
    expect(t.refreshToken).toBe('ref-1');
    expect(t.accessToken).toBe('acc2');
    expect(JSON.parse(f.calls[0].init.body as string)).toEqual({ AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: 'c', AuthParameters: { REFRESH_TOKEN: 'ref-1' } });
  });

  it('maps a wrong password to a readable typed error', async () => {
    const f = fakeFetch(() => json({ __type: 'NotAuthorizedException', message: 'Incorrect username or password.' }, 400));
    const c = new CognitoClient({ endpoint: 'http://idp/', clientId: 'c', passwordFlow: 'USER_PASSWORD_AUTH', fetchImpl: f.fetch });
    const err = await c.signIn('a', 'b').catch((e) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect(err.code).toBe('NotAuthorizedException');
    expect(err.message).toBe('Incorrect username or password.');
  });

  it('returns the new-password challenge and answers it', async () => {
    let n = 0;
    const f = fakeFetch(() =>
      ++n === 1 ? json({ ChallengeName: 'NEW_PASSWORD_REQUIRED', Session: 'sess' }) : json({ AuthenticationResult: { IdToken: idToken, AccessToken: 'a', RefreshToken: 'r' } }),
    );
    const c = new CognitoClient({ endpoint: 'http://idp/', clientId: 'c', passwordFlow: 'USER_PASSWORD_AUTH', fetchImpl: f.fetch });
    const ch = await c.signIn('new@user', 'temp');
    expect(ch).toEqual({ challenge: 'NEW_PASSWORD_REQUIRED', session: 'sess', username: 'new@user' });
    const t = await c.completeNewPassword(ch as never, 'Str0ng!pass');
    expect(t).toMatchObject({ refreshToken: 'r' });
    expect(JSON.parse(f.calls[1].init.body as string)).toMatchObject({ ChallengeName: 'NEW_PASSWORD_REQUIRED', Session: 'sess', ChallengeResponses: { USERNAME: 'new@user', NEW_PASSWORD: 'Str0ng!pass' } });
  });

  it('reads exp from a JWT and returns null for garbage', () => {
    expect(jwtExpiry(idToken)).toBe(2_000_000_000_000);
    expect(jwtExpiry('not-a-jwt')).toBeNull();
  });
});
