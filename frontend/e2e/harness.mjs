// Browser and server plumbing shared by the e2e tests and the benchmark (playwright-core + Debian chromium).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const FRONTEND = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ARTIFACTS = join(FRONTEND, 'test-results', 'e2e');
export const SHARED_DATA = resolve(process.env.OCULUS_SHARED_DATA ?? join(FRONTEND, '../../shared/data'));
// OCULUS_CHROMIUM names the browser binary; Debian's chromium (scripts/setup.sh --browser) otherwise.
export const CHROMIUM = process.env.OCULUS_CHROMIUM || '/usr/bin/chromium';

export async function launch() {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (scripts/setup.sh --browser, or set OCULUS_CHROMIUM)`);
  const profile = mkdtempSync(join(tmpdir(), 'oculus-chromium-'));
  const context = await chromium
    .launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      acceptDownloads: true,
      viewport: { width: 1400, height: 860 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
    })
    .catch((e) => {
      rmSync(profile, { recursive: true, force: true });
      throw e;
    });
  // Nothing leaves the machine: every request not aimed at 127.0.0.1 is aborted.
  await context.route((url) => url.hostname !== '127.0.0.1' && url.protocol.startsWith('http'), (route) => route.abort());
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

/** `vite preview` of dist/ on 127.0.0.1; returns its URL and a stop function (kills by PID). */
export async function startPreview() {
  const port = await freePort();
  const child = spawn(process.execPath, [join(FRONTEND, 'node_modules/vite/bin/vite.js'), 'preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], { cwd: FRONTEND, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).ok) return { url, stop: () => child.kill('SIGTERM') };
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGTERM');
  throw new Error('vite preview did not start (run `npm run build` first)');
}

export async function shot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

/** Pixels of the 3D canvas that differ from the background, and a cheap hash of the image. */
export async function canvasStats(page, background = [11, 17, 32]) {
  return page.evaluate((bg) => {
    const src = document.querySelector('[data-testid=scene-container] canvas');
    if (!src || !src.width) return { differing: 0, hash: 0, width: 0 };
    const c = document.createElement('canvas');
    c.width = src.width;
    c.height = src.height;
    const ctx = c.getContext('2d');
    ctx.drawImage(src, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let differing = 0;
    let hash = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (Math.abs(d[i] - bg[0]) + Math.abs(d[i + 1] - bg[1]) + Math.abs(d[i + 2] - bg[2]) > 24) differing++;
      hash = (hash * 31 + d[i] + d[i + 1] * 7 + d[i + 2] * 13) | 0;
    }
    return { differing, hash, width: c.width };
  }, background);
}

/** Wait until the 3D scene has rendered something other than background. */
export async function waitForRenderedScene(page, timeout = 60_000) {
  const t0 = Date.now();
  for (;;) {
    const s = await canvasStats(page);
    if (s.differing > 500) return s;
    if (Date.now() - t0 > timeout) throw new Error(`the 3D canvas stayed empty (${JSON.stringify(s)})`);
    await page.waitForTimeout(500);
  }
}

/** Wait for a repaint after a state change (the canvas renders on demand). */
export async function statsAfterChange(page, before, timeout = 15_000) {
  const t0 = Date.now();
  for (;;) {
    await page.waitForTimeout(300);
    const s = await canvasStats(page);
    if (s.hash !== before.hash || Date.now() - t0 > timeout) return s;
  }
}
