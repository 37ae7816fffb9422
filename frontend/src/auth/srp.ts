// Cognito's Secure Remote Password sign-in (USER_SRP_AUTH): the password never leaves the
// browser; Cognito gets A, then a signature proving knowledge of the password. The group,
// hashing and key derivation are Cognito's (as in amazon-cognito-identity-js), done with
// BigInt and WebCrypto instead of shipping the AWS SDK.

/** RFC 5054's 3072-bit group, the one Cognito uses (generator 2). */
export const N = BigInt(
  '0x' +
    'FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74' +
    '020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437' +
    '4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED' +
    'EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05' +
    '98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB' +
    '9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B' +
    'E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718' +
    '3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33' +
    'A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7' +
    'ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864' +
    'D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2' +
    '08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF',
);
export const g = 2n;

export function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  let b = ((base % mod) + mod) % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % mod;
    b = (b * b) % mod;
    e >>= 1n;
  }
  return result;
}

/** Hex of a non-negative integer as Cognito signs it: even length, and a leading 00 when the
 * first bit is set (Java's signed BigInteger encoding, which the service uses). */
export function padHex(n: bigint): string {
  let hex = n.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  else if ('89abcdef'.includes(hex[0])) hex = '00' + hex;
  return hex;
}

export function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function bytesToHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const utf8 = (s: string) => new TextEncoder().encode(s);

async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data as BufferSource));
}

async function hmac(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey('raw', key as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', k, data as BufferSource));
}

/** SHA-256 of a hex string's bytes, as a 64-digit hex string. */
export async function hexHash(hex: string): Promise<string> {
  return bytesToHex(await sha256(hexToBytes(hex)));
}

export async function multiplierK(): Promise<bigint> {
  return BigInt('0x' + (await hexHash(padHex(N) + padHex(g))));
}

/** The private value x: H(salt | H(poolName | userId | ":" | password)). */
export async function privateX(poolName: string, userId: string, password: string, saltHex: string): Promise<bigint> {
  const inner = bytesToHex(await sha256(utf8(`${poolName}${userId}:${password}`)));
  return BigInt('0x' + (await hexHash(padHex(BigInt('0x' + saltHex)) + inner)));
}

export async function scramblingU(A: bigint, B: bigint): Promise<bigint> {
  return BigInt('0x' + (await hexHash(padHex(A) + padHex(B))));
}

/** HKDF-SHA256 with Cognito's info string, 16 bytes. */
export async function passwordAuthenticationKey(S: bigint, u: bigint): Promise<Uint8Array> {
  const prk = await hmac(hexToBytes(padHex(u)), hexToBytes(padHex(S)));
  return (await hmac(prk, concat(utf8('Caldera Derived Key'), new Uint8Array([1])))).slice(0, 16);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The TIMESTAMP Cognito expects: "Sat Nov 8 21:04:05 UTC 2026" (day of month not padded). */
export function srpTimestamp(d: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`
  );
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function base64Bytes(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** One sign-in's client secret a and public A = g^a mod N. */
export class SrpSession {
  private constructor(
    readonly a: bigint,
    readonly A: bigint,
  ) {}

  static create(randomBytes: (n: number) => Uint8Array = (n) => crypto.getRandomValues(new Uint8Array(n))): SrpSession {
    for (;;) {
      const a = BigInt('0x' + bytesToHex(randomBytes(128))) % N;
      const A = modPow(g, a, N);
      if (a !== 0n && A !== 0n) return new SrpSession(a, A);
    }
  }

  get srpA(): string {
    return this.A.toString(16);
  }

  /** The PASSWORD_VERIFIER answer for Cognito's challenge parameters. */
  async respond(
    userPoolId: string,
    params: { SALT: string; SRP_B: string; SECRET_BLOCK: string; USER_ID_FOR_SRP: string },
    password: string,
    now: Date,
  ): Promise<{ PASSWORD_CLAIM_SECRET_BLOCK: string; PASSWORD_CLAIM_SIGNATURE: string; TIMESTAMP: string; USERNAME: string }> {
    const poolName = userPoolId.split('_')[1] ?? userPoolId;
    const B = BigInt('0x' + params.SRP_B);
    if (B % N === 0n) throw new Error('SRP: the server sent an invalid B');
    const u = await scramblingU(this.A, B);
    if (u === 0n) throw new Error('SRP: the scrambling parameter is zero');
    const x = await privateX(poolName, params.USER_ID_FOR_SRP, password, params.SALT);
    const k = await multiplierK();
    const S = modPow(B - k * modPow(g, x, N), this.a + u * x, N);
    const key = await passwordAuthenticationKey(S, u);
    const timestamp = srpTimestamp(now);
    const message = concat(utf8(poolName), utf8(params.USER_ID_FOR_SRP), base64Bytes(params.SECRET_BLOCK), utf8(timestamp));
    return {
      PASSWORD_CLAIM_SECRET_BLOCK: params.SECRET_BLOCK,
      PASSWORD_CLAIM_SIGNATURE: base64(await hmac(key, message)),
      TIMESTAMP: timestamp,
      USERNAME: params.USER_ID_FOR_SRP,
    };
  }
}
