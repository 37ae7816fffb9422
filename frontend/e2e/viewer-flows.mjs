// Browser checks of issue 15: phone layout, orientation, selection, slice tools, dialogs, addresses.
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CT, signIn, uploadAndStart, waitForCompletion } from './flows.mjs';
import { canvasStats, shot, statsAfterChange, waitForRenderedScene } from './harness.mjs';

export const DESKTOP = { width: 1440, height: 900 };
/** OUTLINE_COLOR of src/viewer/outline.ts (#f0f9ff) */
const OUTLINE_RGB = [240, 249, 255];
export const PHONE = { width: 390, height: 844 };

/** Sign in, upload the small CT and wait for its 3D scene. */
export async function completedCt(page, base, prefix, file = CT) {
  await signIn(page, base, 'clinician@example.org', 'pw', prefix);
  await uploadAndStart(page, file, prefix);
  await waitForCompletion(page, 90_000);
  return waitForRenderedScene(page, 90_000);
}

/** The page does not scroll sideways. */
export async function assertNoSidewaysScroll(page, where) {
  const { scroll, client } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
  if (scroll > client) throw new Error(`${where}: the page is ${scroll} px wide in a ${client} px viewport`);
}

/** Defines window.__canvasPixels() in the page: the 3D canvas's RGBA pixels, read through a 2D copy. */
async function installCanvasReader(page) {
  await page.evaluate(() => {
    window.__canvasPixels ??= () => {
      const src = document.querySelector('[data-testid=scene-container] canvas');
      const copy = document.createElement('canvas');
      copy.width = src.width;
      copy.height = src.height;
      const context = copy.getContext('2d');
      context.drawImage(src, 0, 0);
      return context.getImageData(0, 0, copy.width, copy.height).data;
    };
  });
}

/** Remember the 3D canvas's pixels under a key; diffCanvas counts how many changed since. */
export async function snapshotCanvas(page, key) {
  await installCanvasReader(page);
  await page.evaluate((k) => {
    (window.__snapshots ??= {})[k] = window.__canvasPixels();
  }, key);
}

export async function diffCanvas(page, key) {
  await installCanvasReader(page);
  return page.evaluate((k) => {
    const now = window.__canvasPixels();
    const before = window.__snapshots[k];
    let changed = 0;
    for (let i = 0; i < now.length; i += 4) if (Math.abs(now[i] - before[i]) + Math.abs(now[i + 1] - before[i + 1]) + Math.abs(now[i + 2] - before[i + 2]) > 30) changed++;
    return changed;
  }, key);
}

/** Pixels of the 3D canvas within `tolerance` of an sRGB colour (the selection outline's). */
export async function countColour(page, rgb, tolerance = 24) {
  await installCanvasReader(page);
  return page.evaluate(
    ([c, tol]) => {
      const d = window.__canvasPixels();
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - c[0]) + Math.abs(d[i + 1] - c[1]) + Math.abs(d[i + 2] - c[2]) <= tol) n++;
      return n;
    },
    [rgb, tolerance],
  );
}

/** Touch gestures through the DevTools protocol: real touch events, as a phone sends them. */
export async function touchGesture(page, from, to, steps = 8) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Emulation.setTouchEmulationEnabled', { enabled: true, maxTouchPoints: 2 });
  const points = (t) => from.map((p, i) => ({ x: p.x + (to[i].x - p.x) * t, y: p.y + (to[i].y - p.y) * t, id: i }));
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: points(0) });
  for (let s = 1; s <= steps; s++) {
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: points(s / steps) });
    await page.waitForTimeout(30);
  }
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  await cdp.detach();
}

async function sceneCentre(page) {
  const box = await page.getByTestId('scene-container').boundingBox();
  return { x: box.x + box.width / 2, y: box.y + box.height / 2, box };
}

export async function phoneLayout(page, base) {
  await page.setViewportSize(PHONE);
  await signIn(page, base, 'clinician@example.org', 'pw', 'phone');
  await assertNoSidewaysScroll(page, 'sign-in');
  await page.getByRole('tab', { name: 'Jobs' }).waitFor();
  await shot(page, 'phone-01-jobs');
  await uploadAndStart(page, CT, 'phone');
  await waitForCompletion(page, 90_000);
  const first = await waitForRenderedScene(page, 90_000);
  await assertNoSidewaysScroll(page, 'viewer');
  const { box, ...centre } = await sceneCentre(page);
  if (box.width < 340) throw new Error(`the 3D view is only ${box.width} px wide on a phone`);
  if (!(await page.getByTestId('orientation-cube').isVisible())) throw new Error('no orientation cube on the phone');
  await shot(page, 'phone-02-viewer');

  // One finger orbits, two fingers pinch-zoom.
  await touchGesture(page, [{ x: centre.x - 60, y: centre.y }], [{ x: centre.x + 60, y: centre.y }]);
  const orbited = await statsAfterChange(page, first);
  if (orbited.hash === first.hash) throw new Error('a one-finger drag did not orbit the view');
  const scaleBefore = await page.getByTestId('scale-label').textContent();
  const barBefore = await page.evaluate(() => document.querySelector('[data-overlay=scale-bar]').getBoundingClientRect().width);
  await touchGesture(page, [{ x: centre.x - 30, y: centre.y }, { x: centre.x + 30, y: centre.y }], [{ x: centre.x - 140, y: centre.y }, { x: centre.x + 140, y: centre.y }]);
  const pinched = await statsAfterChange(page, orbited);
  if (pinched.differing <= orbited.differing) throw new Error(`pinching out did not zoom in (${orbited.differing} -> ${pinched.differing} px)`);
  const barAfter = await page.evaluate(() => document.querySelector('[data-overlay=scale-bar]').getBoundingClientRect().width);
  const scaleAfter = await page.getByTestId('scale-label').textContent();
  if (scaleAfter === scaleBefore && barAfter <= barBefore) throw new Error(`the scale bar did not follow the zoom (${scaleBefore} ${barBefore}px -> ${scaleAfter} ${barAfter}px)`);
  await shot(page, 'phone-03-pinched');

  await page.getByRole('tab', { name: 'Structures' }).click();
  await page.getByRole('list', { name: 'Structures by system' }).waitFor();
  await assertNoSidewaysScroll(page, 'structures');
  await page.getByRole('button', { name: 'liver', exact: true }).click();
  await shot(page, 'phone-04-structures');

  await page.getByRole('tab', { name: 'Slices' }).click();
  await page.locator('[data-testid=slices][data-ready=true] canvas').waitFor({ timeout: 60_000 });
  await page.waitForTimeout(500);
  await assertNoSidewaysScroll(page, 'slices');
  await shot(page, 'phone-05-slices');

  await page.getByRole('tab', { name: 'Jobs' }).click();
  await page.getByTestId('job-row').first().waitFor();
  await assertNoSidewaysScroll(page, 'jobs');
  await shot(page, 'phone-06-jobs-after');
  // Picking a job on a phone brings its viewer up.
  await page.getByTestId('job-row').first().click();
  await page.getByTestId('scene-container').waitFor({ state: 'visible' });
}

export async function orientationAndSelection(page, base) {
  await page.setViewportSize(DESKTOP);
  const first = await completedCt(page, base, 'desktop');
  const lungs = [0, 0, 170]; // midway between the two lungs (RAS mm)
  const pick = () => page.evaluate((p) => window.__oculusViewer.pickThrough(p), lungs);
  await page.getByTestId('scale-label').filter({ hasText: /\d+ (mm|cm)/ }).waitFor();
  await shot(page, 'desktop-01-anterior');

  await page.getByRole('button', { name: /^Left view/ }).click();
  await statsAfterChange(page, first);
  const fromLeft = await pick();
  if (fromLeft !== 'lung_left') throw new Error(`"Left view": the ray through both lungs first hits ${fromLeft}, not the patient's left lung`);
  const facing = await page.evaluate(() => {
    // the cube face turned toward the viewer is drawn widest
    const faces = [...document.querySelectorAll('[data-face]')].map((f) => [f.dataset.face, f.getBoundingClientRect().width * f.getBoundingClientRect().height]);
    return faces.sort((a, b) => b[1] - a[1])[0][0];
  });
  if (facing !== 'L') throw new Error(`after "Left view" the orientation cube shows ${facing} toward the viewer`);
  await shot(page, 'desktop-02-left-view');
  await page.getByRole('button', { name: /^Right view/ }).click();
  await page.waitForTimeout(500);
  if ((await pick()) !== 'lung_right') throw new Error('"Right view" does not put the right lung in front');
  await page.getByRole('button', { name: /^Superior view/ }).click();
  await page.waitForTimeout(500);
  await page.getByRole('button', { name: 'Reset view' }).click();
  await page.waitForTimeout(800);

  // Click the liver in 3D: it is selected, its card shows its measurements, and much of the picture changes.
  await snapshotCanvas(page, 'unselected');
  const outlineBefore = await countColour(page, OUTLINE_RGB);
  const at = await page.evaluate(() => window.__oculusViewer.screenOf([60, 30, 40]));
  await page.mouse.click(at.x, at.y);
  const card = page.getByTestId('selection-card');
  await card.filter({ hasText: 'liver' }).waitFor();
  const text = await card.textContent();
  if (!/Volume/.test(text) || !/45 ± 13 HU/.test(text)) throw new Error(`the selection card lacks the report's measurements: ${text}`);
  await page.waitForTimeout(800);
  const changed = await diffCanvas(page, 'unselected');
  if (changed < 10_000) throw new Error(`selecting the liver changed only ${changed} pixels`);
  // ... and a true outline: a band of the outline colour around its silhouette
  const outline = (await countColour(page, OUTLINE_RGB)) - outlineBefore;
  console.log(`  selection: ${changed} px changed, ${outline} px of outline`);
  if (outline < 800) throw new Error(`the selected liver has no visible outline (${outline} px of the outline colour)`);
  await shot(page, 'desktop-03a-selected-outlined');
  await page.getByLabel('Dim others').check();
  await page.waitForTimeout(800);
  const dimmed = await diffCanvas(page, 'unselected');
  if (dimmed <= changed) throw new Error(`"Dim others" did not fade the rest (${changed} -> ${dimmed} px changed)`);
  await shot(page, 'desktop-03-selected-dimmed');
  await page.getByLabel('Dim others').uncheck();

  // Slice tools: position readout, W/L preset, overlay opacity, and scrolling keeps the selection.
  await page.getByRole('button', { name: 'Show slices' }).click();
  await page.locator('[data-testid=slices][data-ready=true] canvas').waitFor({ timeout: 60_000 });
  // The 3D view re-fits its narrower canvas: the outermost structures stay in sight.
  await page.waitForTimeout(800);
  const scene = await page.getByTestId('scene-container').boundingBox();
  for (const ras of [[-90 - 40, 0, 170], [90 + 40, 0, 170], [-120, 40, -200], [118, 40, -170]]) {
    const p = await page.evaluate((r) => window.__oculusViewer.screenOf(r), ras);
    if (p.x < scene.x || p.x > scene.x + scene.width || p.y < scene.y || p.y > scene.y + scene.height) throw new Error(`with the slices open, RAS ${ras} is outside the 3D view (${Math.round(p.x)}, ${Math.round(p.y)})`);
  }
  await page.getByLabel('Window preset').selectOption('lung');
  await page.getByLabel('Label overlay opacity').fill('0.8');
  const slices = await page.getByTestId('slices').boundingBox();
  const position = page.getByTestId('slice-position');
  await position.filter({ hasText: /Slice \d+, \d+, \d+ of \d+ × \d+ × \d+ · RAS/ }).waitFor({ timeout: 15_000 });
  const before = await position.textContent();
  await page.waitForTimeout(500);
  await snapshotCanvas(page, 'planes');
  await page.mouse.move(slices.x + slices.width * 0.5, slices.y + slices.height * 0.35);
  // Scroll one way, then the other (the crosshair may sit on the last slice).
  for (const dy of [120, -120]) {
    for (let i = 0; i < 4; i++) (await page.mouse.wheel(0, dy), await page.waitForTimeout(150));
    if ((await position.textContent()) !== before) break;
  }
  if ((await position.textContent()) === before) throw new Error(`scrolling did not move through the slices (${before})`);
  await page.waitForTimeout(500);
  const planesMoved = await diffCanvas(page, 'planes');
  if (planesMoved < 200) throw new Error(`the slice planes in 3D did not follow the scroll (${planesMoved} px changed)`);
  const still = await page.getByRole('button', { name: 'liver', exact: true }).getAttribute('aria-pressed');
  if (still !== 'true') throw new Error('scrolling through the slices changed the selected structure');
  await page.waitForTimeout(500);
  await shot(page, 'desktop-04-slices-tools');

  await page.getByRole('button', { name: 'Hide slices' }).click();
  // Downloads carry the job's name.
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.getByRole('button', { name: 'Download ZIP (everything)' }).click()]);
  if (download.suggestedFilename() !== 'example_ct_sm-result.zip') throw new Error(`the ZIP is saved as ${download.suggestedFilename()}`);
  // Addresses: the job has its own URL; back leaves it, forward returns.
  const url = new URL(page.url());
  if (!/^\/jobs\/\w+$/.test(url.pathname)) throw new Error(`the job's address is ${url.pathname}`);
  await page.goBack();
  await page.getByText('Select a job, or upload a scan to start.').waitFor();
  await page.goForward();
  await page.getByTestId('job-status').filter({ hasText: 'Completed' }).waitFor();

}

export async function dialogsRetryAndLinks(page, base) {
  await page.setViewportSize(DESKTOP);
  await signIn(page, base, 'clinician@example.org', 'pw', 'retry');
  // Escape closes the shortcuts dialog.
  await page.keyboard.press('?');
  const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await help.waitFor();
  await page.keyboard.press('Escape');
  await help.waitFor({ state: 'hidden', timeout: 5_000 });

  // A failed job says so in sentences and offers Retry, which runs the same file again.
  const dir = mkdtempSync(join(tmpdir(), 'oculus-e2e-'));
  const file = join(dir, 'failonce_fallback_ct.nii.gz');
  copyFileSync(CT, file);
  await uploadAndStart(page, file, 'retry');
  await page.getByTestId('job-status').filter({ hasText: 'Failed' }).waitFor({ timeout: 60_000 });
  await page.getByRole('alert').filter({ hasText: 'The segmentation failed.' }).filter({ hasText: 'The engine stopped while meshing.' }).waitFor();
  const row = page.getByTestId('job-row').filter({ hasText: 'failonce_fallback_ct.nii.gz' }).first();
  if (!/Segmentation/.test(await row.textContent())) throw new Error('the failed job is not labelled Segmentation');
  await shot(page, 'desktop-05-failed');
  await page.getByRole('button', { name: 'Retry' }).click();
  await page.getByRole('button', { name: 'Retry' }).waitFor({ state: 'detached', timeout: 60_000 }); // the new job is shown
  await waitForCompletion(page, 90_000);
  if ((await page.getByTestId('job-row').count()) !== 2) throw new Error('Retry did not create a new job beside the failed one');
  await degradedEngine(page);
  await shot(page, 'desktop-06-degraded-details');
  // Escape also closes the delete dialog.
  await page.getByRole('button', { name: 'Delete job' }).click();
  const del = page.getByRole('dialog', { name: 'Delete this job?' });
  await del.waitFor();
  await page.keyboard.press('Escape');
  await del.waitFor({ state: 'hidden', timeout: 5_000 });

  // A shared link opens the job (after sign-in when the session is gone).
  const link = page.url();
  await page.goto(link);
  if (await page.getByLabel('Password').isVisible().catch(() => false)) {
    await page.getByLabel('Email or username').fill('clinician@example.org');
    await page.getByLabel('Password').fill('pw');
    await page.getByRole('button', { name: 'Sign in' }).click();
  }
  await page.getByTestId('job-status').filter({ hasText: 'Completed' }).waitFor({ timeout: 30_000 });
  if (new URL(page.url()).pathname !== new URL(link).pathname) throw new Error(`the link ${link} led to ${page.url()}`);
}

export async function degradedEngine(page) {
  const badge = page.getByTestId('engine-badge');
  await badge.waitFor();
  const summary = await page.getByTestId('degraded-summary').textContent();
  if (!/^Approximate: .* instead of 117\.$/.test(summary)) throw new Error(`degraded summary: ${summary}`);
  if (await page.getByText('/opt/venv').isVisible()) throw new Error('operator details show before the disclosure is opened');
  await badge.getByText('Details').click();
  await page.getByText(/TOTALSEG_HOME_DIR/).waitFor();
}

export { canvasStats };
