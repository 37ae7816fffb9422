import { describe, expect, it } from 'vitest';
import { buildCsp } from '../../vite.plugins';

// The CSP decides where the signed-in app may send tokens and scans (here: beside auth).
const connectSrc = (csp: string) => csp.split('; ').find((d) => d.startsWith('connect-src '))!.split(' ').slice(1);

describe('the production CSP', () => {
  it('reaches only the regional services the app uses, never a local address', () => {
    const connect = connectSrc(buildCsp('', 'eu-west-1'));
    expect(connect).toEqual(["'self'", 'https://*.execute-api.eu-west-1.amazonaws.com', 'https://cognito-idp.eu-west-1.amazonaws.com',
      'https://*.s3.eu-west-1.amazonaws.com', 'https://*.s3.amazonaws.com', 'blob:', 'data:']);
  });

  it('lets a local build talk to the local stack', () => {
    expect(connectSrc(buildCsp('', ''))).toEqual(expect.arrayContaining(['http://127.0.0.1:*', 'http://localhost:*']));
  });
});
