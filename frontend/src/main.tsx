import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { ApiClient } from './api/client';
import { App } from './App';
import { CognitoClient } from './auth/cognito';
import { makeTokenProvider } from './auth/session';
import { cognitoEndpoint, loadConfig } from './config';
import { ServicesProvider } from './state/services';
import './index.css';

async function boot() {
  const root = createRoot(document.getElementById('root')!);
  try {
    const config = await loadConfig();
    const cognito = new CognitoClient({
      endpoint: cognitoEndpoint(config),
      clientId: config.UserPoolClientId,
      userPoolId: config.UserPoolId,
      passwordFlow: config.AuthFlow === 'USER_PASSWORD_AUTH' ? 'USER_PASSWORD_AUTH' : 'USER_SRP_AUTH',
    });
    const api = new ApiClient({ baseUrl: config.ApiUrl, getToken: makeTokenProvider(cognito) });
    root.render(
      <StrictMode>
        <ServicesProvider value={{ config, api, cognito }}>
          <App />
        </ServicesProvider>
      </StrictMode>,
    );
  } catch (e) {
    root.render(
      <main role="alert" className="p-8 text-sm text-red-300">
        IRIS Oculus could not start: {(e as Error).message}
      </main>,
    );
  }
}

void boot();
