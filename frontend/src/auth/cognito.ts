// Cognito sign-in over the IdP JSON API with plain fetch: the same calls work against moto
// locally and AWS in production, without shipping the AWS SDK to the browser.

export interface Tokens {
  idToken: string;
  accessToken: string;
  refreshToken: string;
  /** Epoch ms when the id token expires. */
  expiresAt: number;
}

export class AuthError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}

/** Returned when Cognito wants a new password before issuing tokens. */
export interface NewPasswordChallenge {
  challenge: 'NEW_PASSWORD_REQUIRED';
  session: string;
  username: string;
}

export interface CognitoClientOptions {
  endpoint: string;
  clientId: string;
  fetchImpl?: typeof fetch;
  now?: () => number;
}

interface AuthResult {
  IdToken: string;
  AccessToken: string;
  RefreshToken?: string;
  ExpiresIn?: number;
}

export class CognitoClient {
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;

  constructor(private readonly opts: CognitoClientOptions) {
    this.fetchImpl = opts.fetchImpl ?? ((...a) => fetch(...a));
    this.now = opts.now ?? Date.now;
  }

  async signIn(username: string, password: string): Promise<Tokens | NewPasswordChallenge> {
    const out = await this.call('InitiateAuth', {
      AuthFlow: 'USER_PASSWORD_AUTH',
      ClientId: this.opts.clientId,
      AuthParameters: { USERNAME: username, PASSWORD: password },
    });
    if (out.ChallengeName === 'NEW_PASSWORD_REQUIRED')
      return { challenge: 'NEW_PASSWORD_REQUIRED', session: out.Session, username };
    if (out.ChallengeName) throw new AuthError('unsupported_challenge', `Sign-in needs ${out.ChallengeName}, which this app does not support.`);
    return this.tokensFrom(out.AuthenticationResult);
  }

  async completeNewPassword(ch: NewPasswordChallenge, newPassword: string): Promise<Tokens> {
    const out = await this.call('RespondToAuthChallenge', {
      ChallengeName: 'NEW_PASSWORD_REQUIRED',
      ClientId: this.opts.clientId,
      Session: ch.session,
      ChallengeResponses: { USERNAME: ch.username, NEW_PASSWORD: newPassword },
    });
    return this.tokensFrom(out.AuthenticationResult);
  }

  async refresh(refreshToken: string): Promise<Tokens> {
    const out = await this.call('InitiateAuth', {
      AuthFlow: 'REFRESH_TOKEN_AUTH',
      ClientId: this.opts.clientId,
      AuthParameters: { REFRESH_TOKEN: refreshToken },
    });
    // Cognito does not return a new refresh token on refresh: keep the old one.
    return this.tokensFrom(out.AuthenticationResult, refreshToken);
  }

  async signOut(accessToken: string): Promise<void> {
    await this.call('GlobalSignOut', { AccessToken: accessToken });
  }

  private tokensFrom(r: AuthResult | undefined, keepRefresh?: string): Tokens {
    if (!r?.IdToken || !r.AccessToken) throw new AuthError('auth_failed', 'Cognito returned no tokens.');
    const exp = jwtExpiry(r.IdToken);
    return {
      idToken: r.IdToken,
      accessToken: r.AccessToken,
      refreshToken: r.RefreshToken ?? keepRefresh ?? '',
      expiresAt: exp ?? this.now() + (r.ExpiresIn ?? 3600) * 1000,
    };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private async call(target: string, body: unknown): Promise<any> {
    let res: Response;
    try {
      res = await this.fetchImpl(this.opts.endpoint, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-amz-json-1.1',
          'X-Amz-Target': `AWSCognitoIdentityProviderService.${target}`,
        },
        body: JSON.stringify(body),
      });
    } catch (e) {
      throw new AuthError('network_error', `The sign-in service could not be reached (${(e as Error).message}).`);
    }
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw cognitoError(data);
    return data;
  }
}

function cognitoError(data: { __type?: string; message?: string; Message?: string }): AuthError {
  const type = (data.__type ?? 'UnknownError').split('#').pop()!;
  const messages: Record<string, string> = {
    NotAuthorizedException: 'Incorrect username or password.',
    UserNotFoundException: 'Incorrect username or password.',
    UserNotConfirmedException: 'This account is not confirmed yet.',
    PasswordResetRequiredException: 'A password reset is required for this account.',
    TooManyRequestsException: 'Too many attempts; wait a moment and try again.',
    InvalidPasswordException: data.message ?? data.Message ?? 'The new password does not meet the policy.',
  };
  return new AuthError(type, messages[type] ?? data.message ?? data.Message ?? `Sign-in failed (${type}).`);
}

/** `exp` of a JWT in epoch ms (no signature check: the API verifies tokens). */
export function jwtExpiry(token: string): number | null {
  const claims = jwtClaims(token);
  return typeof claims?.exp === 'number' ? claims.exp * 1000 : null;
}

export function jwtClaims(token: string): Record<string, unknown> | null {
  try {
    const part = token.split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    return JSON.parse(decodeURIComponent(escape(atob(b64))));
  } catch {
    return null;
  }
}
