import { render } from '@testing-library/react';
import type { ReactElement } from 'react';
import { ApiClient } from '../api/client';
import { CognitoClient } from '../auth/cognito';
import { ServicesProvider } from '../state/services';
import { fakeFetch } from './helpers';

export function renderWithServices(ui: ReactElement, handler: Parameters<typeof fakeFetch>[0], cognitoHandler?: Parameters<typeof fakeFetch>[0]) {
  const f = fakeFetch(handler);
  const c = fakeFetch(cognitoHandler ?? (() => new Response('{}', { status: 500 })));
  const api = new ApiClient({ baseUrl: 'http://api', getToken: async () => 'tok', fetchImpl: f.fetch });
  const cognito = new CognitoClient({ endpoint: 'http://idp/', clientId: 'c', userPoolId: 'us-east-1_p', fetchImpl: c.fetch });
  const config = { ApiUrl: 'http://api', UserPoolId: 'p', UserPoolClientId: 'c', Region: 'us-east-1' };
  const utils = render(<ServicesProvider value={{ api, cognito, config }}>{ui}</ServicesProvider>);
  return { ...utils, calls: f.calls, cognitoCalls: c.calls, api };
}
