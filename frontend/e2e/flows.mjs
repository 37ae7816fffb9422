// User flows shared by the mocked and the real-stack e2e suites.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED_DATA, canvasStats, shot, statsAfterChange, waitForRenderedScene } from './harness.mjs';

export const CT = join(SHARED_DATA, 'ct/example_ct_sm.nii.gz');
export function brainImage() {
  const dir = join(SHARED_DATA, 'brain-mri/Training/glioma');
  return join(dir, readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort()[0]);
}

export async function signIn(page, base, user, password, prefix) {
  await page.goto(base + '/');
  await page.getByLabel('Email or username').fill(user);
  await page.getByLabel('Password').fill(password);
  await shot(page, `${prefix}-01-sign-in`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'New job' }).waitFor({ timeout: 30_000 });
}

export async function uploadAndStart(page, file, prefix, { fast = false } = {}) {
  await page.getByTestId('file-input').setInputFiles(file);
  // fast mode is offered only where the engine has TotalSegmentator (GET /capabilities)
  const fastMode = page.getByLabel(/Fast mode/);
  if (fast && (await fastMode.isVisible()) && (await fastMode.isEnabled())) await fastMode.check();
  await shot(page, `${prefix}-02-file-chosen`);
  await page.getByRole('button', { name: 'Upload and start' }).click();
}

export async function waitForCompletion(page, timeout) {
  const status = page.getByTestId('job-status');
  const t0 = Date.now();
  for (;;) {
    const text = (await status.textContent({ timeout: 30_000 }).catch(() => '')) ?? '';
    if (text === 'Completed') return;
    if (text === 'Failed') throw new Error(`job failed: ${await page.getByRole('alert').first().textContent()}`);
    if (Date.now() - t0 > timeout) throw new Error(`job not completed after ${timeout} ms (last: ${text})`);
    await page.waitForTimeout(1000);
  }
}

/** The 3D checks: something rendered, hiding a structure changes the image, slices open, ZIP downloads. */
export async function explore(page, prefix, structure) {
  const first = await waitForRenderedScene(page);
  await shot(page, `${prefix}-04-scene`);
  await page.getByLabel(`Show ${structure.replace(/_/g, ' ')}`).uncheck();
  const hidden = await statsAfterChange(page, first);
  if (hidden.hash === first.hash || hidden.differing >= first.differing) throw new Error(`hiding ${structure} did not change the picture (${first.differing} -> ${hidden.differing} px)`);
  await shot(page, `${prefix}-05-structure-hidden`);
  await page.getByLabel(`Show ${structure.replace(/_/g, ' ')}`).check();
  const shown = await statsAfterChange(page, hidden);

  // Clipping plane: cutting the scene changes the picture; switching it off restores it.
  await page.getByLabel('Clipping plane', { exact: true }).check();
  const clipped = await statsAfterChange(page, shown);
  if (clipped.hash === shown.hash) throw new Error('the clipping plane did not change the picture');
  await shot(page, `${prefix}-05b-clipped`);
  await page.getByLabel('Clipping plane', { exact: true }).uncheck();
  const unclipped = await statsAfterChange(page, clipped);

  // Isolate: select the structure in the list, isolate it, then show everything again.
  const label = structure.replace(/_/g, ' ');
  await page.getByRole('button', { name: label, exact: true }).click();
  const selectedStats = await statsAfterChange(page, unclipped);
  await page.getByRole('button', { name: 'Isolate' }).click();
  const isolated = await statsAfterChange(page, selectedStats);
  if (isolated.hash === selectedStats.hash) throw new Error(`isolating ${structure} did not change the picture`);
  await shot(page, `${prefix}-05c-isolated`);
  await page.getByRole('button', { name: 'Show all', exact: true }).click();
  await page.getByRole('button', { name: label, exact: true }).click(); // deselect

  // Screenshot: a PNG of the 3D view is downloaded.
  const [png] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.getByRole('button', { name: 'Screenshot' }).click()]);
  if (!/\.png$/.test(png.suggestedFilename())) throw new Error(`screenshot saved as ${png.suggestedFilename()}`);
  if (!statSync(await png.path()).size) throw new Error('the screenshot PNG is empty');

  await page.getByRole('button', { name: 'Show slices' }).click();
  await page.locator('[data-testid=slices][data-ready=true] canvas').waitFor({ timeout: 60_000 });
  await page.waitForTimeout(500);
  await shot(page, `${prefix}-06-slices`);
  // Hiding the slices hands their WebGL context back at once (useNiivue loses it on unmount).
  await page.evaluate(() => {
    const canvas = document.querySelector('[data-testid=slices] canvas');
    canvas.addEventListener('webglcontextlost', () => (window.__slicesContextLost = true), { once: true });
  });
  await page.getByRole('button', { name: 'Hide slices' }).click();
  await page.waitForFunction(() => window.__slicesContextLost === true, null, { timeout: 10_000 }).catch(() => {
    throw new Error('hiding the slices did not release their WebGL context');
  });

  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.getByRole('button', { name: 'Download ZIP (everything)' }).click()]);
  const path = await download.path();
  const size = statSync(path).size;
  if (!size) throw new Error('the ZIP download is empty');
  if (!/\.zip$/.test(download.suggestedFilename())) throw new Error(`unexpected download name ${download.suggestedFilename()}`);
  return { pixels: first.differing, zipBytes: size };
}

export async function checkClassification(page, prefix) {
  await page.getByTestId('research-notice').waitFor();
  await page.getByTestId('verdict').waitFor();
  await shot(page, `${prefix}-08-classification`);
  const text = await page.getByTestId('verdict').textContent();
  if (!/Glioma|Meningioma|No tumour|Pituitary/.test(text)) throw new Error(`no predicted class shown: ${text}`);
}

export { canvasStats };
