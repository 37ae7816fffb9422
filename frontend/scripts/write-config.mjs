#!/usr/bin/env node
// Write the runtime config.json from VITE_* build variables (Amplify) — the same shape the local stack writes.
import { writeFileSync } from 'node:fs';

const env = process.env;
const config = {
  ApiUrl: env.VITE_API_URL,
  UserPoolId: env.VITE_USER_POOL_ID,
  UserPoolClientId: env.VITE_USER_POOL_CLIENT_ID,
  Region: env.VITE_REGION,
  ...(env.VITE_COGNITO_ENDPOINT ? { CognitoEndpoint: env.VITE_COGNITO_ENDPOINT } : {}),
};
const missing = Object.entries(config).filter(([, v]) => !v).map(([k]) => k);
if (missing.length) {
  console.error(`missing build variables for: ${missing.join(', ')}`);
  process.exit(1);
}
const out = process.argv[2] ?? 'public/config.json';
writeFileSync(out, JSON.stringify(config, null, 2) + '\n');
console.log(`wrote ${out}`);
