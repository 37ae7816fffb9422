// Cognito sign-in over the IdP JSON API with plain fetch: the same calls work against moto
// locally and AWS in production, without shipping the AWS SDK to the browser. On AWS the
// password is proven with SRP (it never leaves the browser); the local stack's config asks for
// USER_PASSWORD_AUTH because moto does not check SRP proofs.
import { SrpSession } from './srp';

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

/** Returned when the user turned on TOTP MFA: a code from the authenticator app finishes sign-in. */
export interface TotpChallenge {
  challenge: 'SOFTWARE_TOKEN_MFA';
  session: string;
  username: string;
}

export type SignInChallenge = NewPasswordChallenge | TotpChallenge;

export type PasswordFlow = 'USER_SRP_AUTH' | 'USER_PASSWORD_AUTH';

export interface CognitoClientOptions {
  endpoint: string;
  clientId: string;
  /** Needed for SRP (its pool name is part of the proof). */
  userPoolId?: string;
  /** Default SRP; USER_PASSWORD_AUTH only where config asks for it (the local moto stack). */
  passwordFlow?: PasswordFlow;
  fetchImpl?: typeof fetch;
  now?: () => number;
}

interface AuthResult {
  IdToken: string;
  AccessToken: string;
  RefreshToken?: string;
  ExpiresIn?: number;
}

/** The fields this client reads from Cognito's answers (GlobalSignOut answers `{}`). */
interface CognitoAnswer {
  ChallengeName?: string;
  ChallengeParameters?: Record<string, string>;
  Session?: string;
  AuthenticationResult?: AuthResult;
  SecretCode?: string;
  Status?: string;
}

export class CognitoClient {
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;

  constructor(private readonly opts: CognitoClientOptions) {
    this.fetchImpl = opts.fetchImpl ?? ((...a) => fetch(...a));
    this.now = opts.now ?? Date.now;
  }

  async signIn(username: string, password: string): Promise<Tokens | SignInChallenge> {
    if ((this.opts.passwordFlow ?? 'USER_SRP_AUTH') === 'USER_PASSWORD_AUTH') {
      const out = await this.call('InitiateAuth', {
        AuthFlow: 'USER_PASSWORD_AUTH',
        ClientId: this.opts.clientId,
        AuthParameters: { USERNAME: username, PASSWORD: password },
      });
      return this.outcome(out, username);
    }
    if (!this.opts.userPoolId) throw new AuthError('config_invalid', 'SRP sign-in needs the user pool id.');
    const srp = SrpSession.create();
    const start = await this.call('InitiateAuth', {
      AuthFlow: 'USER_SRP_AUTH',
      ClientId: this.opts.clientId,
      AuthParameters: { USERNAME: username, SRP_A: srp.srpA },
    });
    if (start.ChallengeName !== 'PASSWORD_VERIFIER') return this.outcome(start, username);
    const params = start.ChallengeParameters ?? {};
    const responses = await srp.respond(
      this.opts.userPoolId,
      { SALT: params.SALT, SRP_B: params.SRP_B, SECRET_BLOCK: params.SECRET_BLOCK, USER_ID_FOR_SRP: params.USER_ID_FOR_SRP },
      password,
      new Date(this.now()),
    );
    const out = await this.call('RespondToAuthChallenge', {
      ChallengeName: 'PASSWORD_VERIFIER',
      ClientId: this.opts.clientId,
      Session: start.Session,
      ChallengeResponses: responses,
    });
    return this.outcome(out, params.USERNAME ?? username);
  }

  private outcome(out: CognitoAnswer, username: string): Tokens | SignInChallenge {
    if (out.ChallengeName === 'NEW_PASSWORD_REQUIRED' || out.ChallengeName === 'SOFTWARE_TOKEN_MFA')
      return { challenge: out.ChallengeName, session: out.Session ?? '', username: out.ChallengeParameters?.USERNAME ?? username };
    if (out.ChallengeName) throw new AuthError('unsupported_challenge', `Sign-in needs ${out.ChallengeName}, which this app does not support.`);
    return this.tokensFrom(out.AuthenticationResult);
  }

  async completeNewPassword(ch: NewPasswordChallenge, newPassword: string): Promise<Tokens | SignInChallenge> {
    const out = await this.call('RespondToAuthChallenge', {
      ChallengeName: 'NEW_PASSWORD_REQUIRED',
      ClientId: this.opts.clientId,
      Session: ch.session,
      ChallengeResponses: { USERNAME: ch.username, NEW_PASSWORD: newPassword },
    });
    return this.outcome(out, ch.username);
  }

  /** Answer the TOTP challenge with the authenticator app's 6-digit code. */
  async completeTotp(ch: TotpChallenge, code: string): Promise<Tokens> {
    const out = await this.call('RespondToAuthChallenge', {
      ChallengeName: 'SOFTWARE_TOKEN_MFA',
      ClientId: this.opts.clientId,
      Session: ch.session,
      ChallengeResponses: { USERNAME: ch.username, SOFTWARE_TOKEN_MFA_CODE: code },
    });
    return this.tokensFrom(out.AuthenticationResult);
  }

  /** Optional TOTP MFA, step 1: the secret to put into an authenticator app. */
  async beginTotpSetup(accessToken: string): Promise<string> {
    const out = await this.call('AssociateSoftwareToken', { AccessToken: accessToken });
    if (!out.SecretCode) throw new AuthError('auth_failed', 'Cognito returned no TOTP secret.');
    return out.SecretCode;
  }

  /** Step 2: prove the app works with one code, then make TOTP required at each sign-in. */
  async finishTotpSetup(accessToken: string, code: string): Promise<void> {
    const out = await this.call('VerifySoftwareToken', { AccessToken: accessToken, UserCode: code, FriendlyDeviceName: 'IRIS Oculus' });
    if (out.Status && out.Status !== 'SUCCESS') throw new AuthError('CodeMismatchException', 'That code was not accepted; try the next one.');
    await this.call('SetUserMFAPreference', { AccessToken: accessToken, SoftwareTokenMfaSettings: { Enabled: true, PreferredMfa: true } });
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

  private async call(target: string, body: unknown): Promise<CognitoAnswer> {
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
    CodeMismatchException: 'That code was not accepted; try the next one.',
    EnableSoftwareTokenMFAException: 'That code was not accepted; try the next one.',
    ExpiredCodeException: 'That code has expired; try the next one.',
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
