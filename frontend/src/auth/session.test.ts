import { describe, expect, it, vi } from 'vitest';
import { CognitoClient } from './cognito';
import { makeTokenProvider, useSession } from './session';
import { fakeJwt } from '../test/helpers';

const NOW = 1_700_000_000_000;

function tokens(expiresAt: number, id = 'old') {
  return { idToken: fakeJwt({ sub: id, email: `${id}@x` }), accessToken: 'a', refreshToken: 'r', expiresAt };
}

describe('token provider', () => {
  it('returns the current id token while it is fresh', async () => {
    const t = tokens(NOW + 10 * 60_000);
    useSession.getState().setTokens(t);
    const refresh = vi.fn();
    const get = makeTokenProvider({ refresh } as unknown as CognitoClient, () => NOW);
    expect(await get()).toBe(t.idToken);
    expect(refresh).not.toHaveBeenCalled();
    expect(JSON.parse(sessionStorage.getItem('oculus.session')!).idToken).toBe(t.idToken);
  });

  it('refreshes once near expiry, even for concurrent callers', async () => {
    useSession.getState().setTokens(tokens(NOW + 10_000));
    const fresh = tokens(NOW + 3600_000, 'new');
    const refresh = vi.fn(async () => fresh);
    const get = makeTokenProvider({ refresh } as unknown as CognitoClient, () => NOW);
    const [a, b] = await Promise.all([get(), get()]);
    expect(a).toBe(fresh.idToken);
    expect(b).toBe(fresh.idToken);
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(useSession.getState().user).toBe('new@x');
  });

  it('signs the user out when the refresh is refused', async () => {
    useSession.getState().setTokens(tokens(NOW + 10 * 60_000));
    const get = makeTokenProvider({ refresh: async () => Promise.reject(new Error('revoked')) } as unknown as CognitoClient, () => NOW);
    expect(await get(true)).toBeNull();
    expect(useSession.getState().tokens).toBeNull();
    expect(sessionStorage.getItem('oculus.session')).toBeNull();
    expect(useSession.getState().ended).toBe('expired');
  });

  it('ends the session as expired when a refused token cannot be renewed', async () => {
    useSession.getState().setTokens({ ...tokens(NOW + 10 * 60_000), refreshToken: '' });
    const refresh = vi.fn();
    const get = makeTokenProvider({ refresh } as unknown as CognitoClient, () => NOW);
    expect(await get(true)).toBeNull();
    expect(refresh).not.toHaveBeenCalled();
    expect(useSession.getState().ended).toBe('expired');
  });

  it('a deliberate sign-out is not reported as an expiry', () => {
    useSession.getState().expire();
    useSession.getState().setTokens(null);
    expect(useSession.getState().ended).toBeNull();
  });
});
