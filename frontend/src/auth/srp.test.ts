import { createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fakeFetch, fakeJwt, json } from '../test/helpers';
import { CognitoClient } from './cognito';
import { N, modPow, padHex, srpTimestamp } from './srp';

// The server half of Cognito's SRP, written here from the protocol with Node's crypto (not
// with srp.ts's helpers), so a client that gets the proof wrong is refused.
const sha = (buf: Buffer) => createHash('sha256').update(buf).digest();
const hexBuf = (hex: string) => Buffer.from(hex, 'hex');
const big = (buf: Buffer) => BigInt('0x' + buf.toString('hex'));
const pad = (n: bigint) => {
  const h = n.toString(16);
  return h.length % 2 ? '0' + h : /^[89a-f]/.test(h) ? '00' + h : h;
};

class CognitoSrpServer {
  readonly salt = randomBytes(16).toString('hex');
  readonly secretBlock = randomBytes(64).toString('base64');
  private readonly b = big(randomBytes(64));
  private B = 0n;
  private A = 0n;

  constructor(
    readonly poolName: string,
    readonly userId: string,
    private readonly password: string,
  ) {}

  private x(): bigint {
    const inner = sha(Buffer.from(`${this.poolName}${this.userId}:${this.password}`, 'utf8'));
    return big(sha(Buffer.concat([hexBuf(pad(BigInt('0x' + this.salt))), inner])));
  }

  challenge(srpA: string): Record<string, string> {
    this.A = BigInt('0x' + srpA);
    const k = big(sha(hexBuf(pad(N) + pad(2n))));
    const v = modPow(2n, this.x(), N);
    this.B = (k * v + modPow(2n, this.b, N)) % N;
    return { SALT: this.salt, SRP_B: this.B.toString(16), SECRET_BLOCK: this.secretBlock, USER_ID_FOR_SRP: this.userId, USERNAME: this.userId };
  }

  expectedSignature(timestamp: string): string {
    const u = big(sha(hexBuf(pad(this.A) + pad(this.B))));
    const v = modPow(2n, this.x(), N);
    const S = modPow(this.A * modPow(v, u, N), this.b, N);
    const key = Buffer.from(hkdfSync('sha256', hexBuf(pad(S)), hexBuf(pad(u)), 'Caldera Derived Key', 16));
    const msg = Buffer.concat([Buffer.from(this.poolName), Buffer.from(this.userId), Buffer.from(this.secretBlock, 'base64'), Buffer.from(timestamp)]);
    return createHmac('sha256', key).update(msg).digest('base64');
  }
}

function fakeCognito(server: CognitoSrpServer) {
  const idToken = fakeJwt({ sub: 'u1', exp: 2_000_000_000 });
  return fakeFetch((_url, init) => {
    const target = (init.headers as Record<string, string>)['X-Amz-Target'];
    const body = JSON.parse(init.body as string);
    if (target.endsWith('InitiateAuth')) {
      expect(body.AuthFlow).toBe('USER_SRP_AUTH');
      expect(body.AuthParameters.PASSWORD).toBeUndefined(); // the point of SRP
      return json({ ChallengeName: 'PASSWORD_VERIFIER', Session: 's1', ChallengeParameters: server.challenge(body.AuthParameters.SRP_A) });
    }
    const r = body.ChallengeResponses;
    if (body.ChallengeName !== 'PASSWORD_VERIFIER' || r.PASSWORD_CLAIM_SIGNATURE !== server.expectedSignature(r.TIMESTAMP))
      return json({ __type: 'NotAuthorizedException', message: 'Incorrect username or password.' }, 400);
    return json({ AuthenticationResult: { IdToken: idToken, AccessToken: 'acc', RefreshToken: 'ref' } });
  });
}

describe('SRP sign-in', () => {
  const opts = { endpoint: 'http://idp/', clientId: 'c', userPoolId: 'eu-west-1_AbCdEf123' };

  it('proves the password to a Cognito SRP server without sending it', async () => {
    const server = new CognitoSrpServer('AbCdEf123', 'user-id-1', 'Corr3ct horse!');
    const f = fakeCognito(server);
    const c = new CognitoClient({ ...opts, fetchImpl: f.fetch });
    const t = await c.signIn('doc@example.org', 'Corr3ct horse!');
    expect(t).toMatchObject({ accessToken: 'acc', refreshToken: 'ref' });
    expect(JSON.stringify(f.calls.map((x) => x.init.body))).not.toContain('Corr3ct horse!');
  });

  it('is refused with a wrong password', async () => {
    const server = new CognitoSrpServer('AbCdEf123', 'user-id-1', 'Corr3ct horse!');
    const c = new CognitoClient({ ...opts, fetchImpl: fakeCognito(server).fetch });
    await expect(c.signIn('doc@example.org', 'wrong horse')).rejects.toMatchObject({ code: 'NotAuthorizedException' });
  });

  it('returns the TOTP challenge when MFA is on and answers it with the code', async () => {
    let n = 0;
    const idToken = fakeJwt({ sub: 'u1', exp: 2_000_000_000 });
    const f = fakeFetch(() =>
      ++n === 1 ? json({ ChallengeName: 'SOFTWARE_TOKEN_MFA', Session: 'm1', ChallengeParameters: { USERNAME: 'u1' } }) : json({ AuthenticationResult: { IdToken: idToken, AccessToken: 'a' } }),
    );
    const c = new CognitoClient({ ...opts, passwordFlow: 'USER_PASSWORD_AUTH', fetchImpl: f.fetch });
    const ch = await c.signIn('doc', 'pw');
    expect(ch).toEqual({ challenge: 'SOFTWARE_TOKEN_MFA', session: 'm1', username: 'u1' });
    await c.completeTotp(ch as never, '123456');
    expect(JSON.parse(f.calls[1].init.body as string)).toMatchObject({ ChallengeName: 'SOFTWARE_TOKEN_MFA', Session: 'm1', ChallengeResponses: { USERNAME: 'u1', SOFTWARE_TOKEN_MFA_CODE: '123456' } });
  });

  it('pads hex as Java signs it and writes Cognito timestamps', () => {
    expect(padHex(0x7fn)).toBe('7f');
    expect(padHex(0x80n)).toBe('0080');
    expect(padHex(0xabcn)).toBe('0abc');
    expect(srpTimestamp(new Date(Date.UTC(2026, 10, 8, 21, 4, 5)))).toBe('Sun Nov 8 21:04:05 UTC 2026');
  });
});
