#!/usr/bin/env node
// e2e runner: with OCULUS_WEB_URL, the real local stack; otherwise `vite preview` with the API mocked.
// Writes test-results/e2e.json ({results:[{name, ok, ms, error}]}); scripts/summary.mjs reads it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS, FRONTEND, launch, startPreview } from './harness.mjs';

const real = !!process.env.OCULUS_WEB_URL;
const suite = await import(real ? './stack.test.mjs' : './mocked.test.mjs');
const only = process.argv[2];
mkdirSync(ARTIFACTS, { recursive: true });

const preview = real ? null : await startPreview();
const baseUrl = real ? process.env.OCULUS_WEB_URL.replace(/\/+$/, '') : preview.url;
const { context, close } = await launch();
const results = [];
try {
  for (const [name, fn] of Object.entries(suite.tests)) {
    if (only && !name.includes(only)) continue;
    const page = await context.newPage();
    const errors = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(String(e)));
    const t0 = Date.now();
    try {
      await (suite.setup?.(page, baseUrl) ?? Promise.resolve());
      await fn(page, baseUrl);
      const csp = errors.filter((e) => /Content Security Policy/i.test(e));
      if (csp.length) throw new Error(`CSP violations: ${csp.join(' | ')}`);
      results.push({ name, ok: true, ms: Date.now() - t0 });
      console.log(`ok   ${name} (${Date.now() - t0} ms)`);
    } catch (e) {
      await page.screenshot({ path: join(ARTIFACTS, `FAILED-${name.replace(/\W+/g, '_')}.png`) }).catch(() => {});
      results.push({ name, ok: false, ms: Date.now() - t0, error: String(e?.stack ?? e), console: errors.slice(-10) });
      console.log(`FAIL ${name}: ${e?.message ?? e}\n  console: ${errors.slice(-5).join('\n  ')}`);
    } finally {
      await page.close();
    }
  }
} finally {
  await close();
  preview?.stop();
}
writeFileSync(join(FRONTEND, 'test-results', 'e2e.json'), JSON.stringify({ mode: real ? 'stack' : 'mocked', baseUrl, results }, null, 2));
const failed = results.filter((r) => !r.ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
