// Runtime configuration: /config.json written from the stack outputs (locally) or at build time (Amplify).

export interface AppConfig {
  ApiUrl: string;
  UserPoolId: string;
  UserPoolClientId: string;
  Region: string;
  /** Cognito IdP endpoint; defaults to the public AWS one for Region. Locally: moto's URL. */
  CognitoEndpoint?: string;
  /** Sign-in flow; absent means SRP. The local moto stack sets USER_PASSWORD_AUTH (moto does not check SRP proofs). */
  AuthFlow?: string;
  [k: string]: unknown;
}

export class ConfigError extends Error {
  readonly code = 'config_invalid';
}

const REQUIRED = ['ApiUrl', 'UserPoolId', 'UserPoolClientId', 'Region'] as const;

export function parseConfig(raw: unknown): AppConfig {
  if (!raw || typeof raw !== 'object') throw new ConfigError('config.json is not a JSON object');
  const cfg = raw as Record<string, unknown>;
  const missing = REQUIRED.filter((k) => typeof cfg[k] !== 'string' || !(cfg[k] as string));
  if (missing.length) throw new ConfigError(`config.json lacks ${missing.join(', ')}`);
  return { ...(cfg as AppConfig), ApiUrl: (cfg.ApiUrl as string).replace(/\/+$/, '') };
}

export function cognitoEndpoint(cfg: AppConfig): string {
  return (cfg.CognitoEndpoint || `https://cognito-idp.${cfg.Region}.amazonaws.com`).replace(/\/+$/, '') + '/';
}

export async function loadConfig(fetchImpl: typeof fetch = fetch): Promise<AppConfig> {
  const res = await fetchImpl('/config.json', { cache: 'no-store' });
  if (!res.ok) throw new ConfigError(`config.json could not be loaded (HTTP ${res.status})`);
  return parseConfig(await res.json());
}
