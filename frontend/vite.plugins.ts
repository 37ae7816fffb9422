// Build-time plugins: self-hosted Draco decoder and the Content-Security-Policy meta tag.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';

const HERE = dirname(fileURLToPath(import.meta.url));
const DRACO_FILES = ['draco_decoder.js', 'draco_decoder.wasm', 'draco_wasm_wrapper.js'];

function dracoDir(): string {
  return join(HERE, 'node_modules/three/examples/jsm/libs/draco/gltf');
}

/** Serve three's Draco decoder under /draco/ (dev) and emit it into the build, so no CDN is needed. */
export function dracoDecoder(): Plugin {
  return {
    name: 'oculus-draco-decoder',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const name = req.url?.startsWith('/draco/') ? req.url.slice('/draco/'.length).split('?')[0] : '';
        if (!DRACO_FILES.includes(name)) return next();
        res.setHeader('Content-Type', name.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
        res.end(readFileSync(join(dracoDir(), name)));
      });
    },
    generateBundle() {
      for (const name of DRACO_FILES) {
        this.emitFile({ type: 'asset', fileName: `draco/${name}`, source: readFileSync(join(dracoDir(), name)) });
      }
    },
  };
}

/**
 * Strict CSP for the built app: no inline scripts; wasm allowed for Draco and NiiVue.
 * connect-src: a production build (Amplify sets VITE_REGION) reaches only the services the app
 * uses in that region (API Gateway, Cognito's IdP API, S3 presigned URLs); any other build
 * also a local stack on 127.0.0.1/localhost and any AWS host.
 * OCULUS_CSP_CONNECT (space separated) adds origins at build time.
 */
export function buildCsp(extraConnect = process.env.OCULUS_CSP_CONNECT ?? '', region = process.env.VITE_REGION ?? ''): string {
  const aws = region
    ? [
        `https://*.execute-api.${region}.amazonaws.com`,
        `https://cognito-idp.${region}.amazonaws.com`,
        `https://*.s3.${region}.amazonaws.com`,
        'https://*.s3.amazonaws.com', // presigned URLs of us-east-1 buckets use the global name
      ]
    : ['https://*.amazonaws.com', 'http://127.0.0.1:*', 'http://localhost:*'];
  const connect = ["'self'", ...aws, 'blob:', 'data:', ...extraConnect.split(/\s+/).filter(Boolean)];
  return [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "worker-src 'self' blob:",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' blob: data:",
    "font-src 'self'",
    `connect-src ${connect.join(' ')}`,
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
  ].join('; ');
}

export function cspMeta(): Plugin {
  return {
    name: 'oculus-csp-meta',
    apply: 'build', // the dev server injects inline HMR scripts, so only the build carries the policy
    transformIndexHtml() {
      return [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: buildCsp() }, injectTo: 'head-prepend' }];
    },
  };
}
