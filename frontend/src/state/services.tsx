import { createContext, useContext, type ReactNode } from 'react';
import type { ApiClient } from '../api/client';
import type { CognitoClient } from '../auth/cognito';
import type { AppConfig } from '../config';

export interface Services {
  config: AppConfig;
  api: ApiClient;
  cognito: CognitoClient;
}

const Ctx = createContext<Services | null>(null);

export function ServicesProvider({ value, children }: { value: Services; children: ReactNode }) {
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useServices(): Services {
  const s = useContext(Ctx);
  if (!s) throw new Error('ServicesProvider missing');
  return s;
}
