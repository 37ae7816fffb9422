// The signed-in session: tokens in sessionStorage (gone when the tab closes), refreshed ahead of expiry.
import { create } from 'zustand';
import { CognitoClient, jwtClaims, type SignInChallenge, type Tokens } from './cognito';

const STORAGE_KEY = 'oculus.session';
const REFRESH_MARGIN_MS = 60_000;
/** What the sign-in page says after a session the server no longer accepts. */
export const SESSION_EXPIRED = 'Your session expired — please sign in again.';

export interface SessionState {
  tokens: Tokens | null;
  user: string | null;
  challenge: SignInChallenge | null;
  /** Why the last session ended without the user signing out; the sign-in page says so. */
  ended: 'expired' | null;
  setTokens: (t: Tokens | null) => void;
  /** Ends a session the server no longer accepts (refresh refused, token invalidated). */
  expire: () => void;
  setChallenge: (c: SignInChallenge | null) => void;
}

function userOf(t: Tokens | null): string | null {
  if (!t) return null;
  const c = jwtClaims(t.idToken);
  return (c?.email as string) ?? (c?.['cognito:username'] as string) ?? (c?.sub as string) ?? null;
}

function loadStored(): Tokens | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as Tokens) : null;
  } catch {
    return null;
  }
}

const initial = loadStored();

export const useSession = create<SessionState>((set) => ({
  tokens: initial,
  user: userOf(initial),
  challenge: null,
  ended: null,
  setTokens: (tokens) => {
    if (tokens) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(tokens));
    else sessionStorage.removeItem(STORAGE_KEY);
    set({ tokens, user: userOf(tokens), challenge: null, ended: null });
  },
  expire: () => {
    sessionStorage.removeItem(STORAGE_KEY);
    set({ tokens: null, user: null, challenge: null, ended: 'expired' });
  },
  setChallenge: (challenge) => set({ challenge }),
}));

/** Token provider for the API client: refreshes when near expiry or when forced (after a 401). */
export function makeTokenProvider(cognito: CognitoClient, now: () => number = Date.now) {
  let inflight: Promise<Tokens | null> | null = null;
  return async (force = false): Promise<string | null> => {
    const t = useSession.getState().tokens;
    if (!t) return null;
    if (!force && t.expiresAt - now() > REFRESH_MARGIN_MS) return t.idToken;
    if (!t.refreshToken) {
      if (force) useSession.getState().expire(); // the server refused the token and nothing can renew it
      return force ? null : t.idToken;
    }
    inflight ??= cognito
      .refresh(t.refreshToken)
      .then((nt) => (useSession.getState().setTokens(nt), nt))
      .catch(() => (useSession.getState().expire(), null))
      .finally(() => (inflight = null));
    return (await inflight)?.idToken ?? null;
  };
}
