// The app built for production (`vite preview`, strict CSP) against a mocked API.
import { mockBackend } from './mock-api.mjs';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CT, brainImage, checkClassification, explore, signIn, uploadAndStart, waitForCompletion } from './flows.mjs';
import { shot, waitForRenderedScene } from './harness.mjs';
import { dialogsRetryAndLinks, orientationAndSelection, phoneLayout } from './viewer-flows.mjs';
import { taskPickerBothWays } from './engine-flows.mjs';

export async function setup(page, base) {
  const backend = mockBackend();
  await page.route(`${base}/**`, (route) => backend.handle(route, base));
}

export const tests = {
  'rejects a wrong password': async (page, base) => {
    await page.goto(base + '/');
    await page.getByLabel('Email or username').fill('clinician@example.org');
    await page.getByLabel('Password').fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Incorrect username or password.' }).waitFor();
  },

  'segments a CT and explores it in 3D and slices': async (page, base) => {
    await signIn(page, base, 'clinician@example.org', 'pw', 'mock-ct');
    await uploadAndStart(page, CT, 'mock-ct');
    await page.getByTestId('job-status').waitFor();
    await shot(page, `mock-ct-03-queued`);
    await waitForCompletion(page, 60_000);
    await explore(page, 'mock-ct', 'liver');
    // selecting in the list highlights it; the slices follow (crosshair move is not asserted here)
    await page.getByRole('button', { name: 'liver', exact: true }).click();
    await page.getByLabel('Opacity').waitFor();
    await page.keyboard.press('?');
    await page.getByRole('dialog', { name: 'Keyboard shortcuts' }).waitFor();
    await shot(page, 'mock-ct-07-help');
  },

  'opens the 3D scene while the job finishes, then offers the downloads': async (page, base) => {
    await signIn(page, base, 'clinician@example.org', 'pw', 'mock-early');
    const file = join(mkdtempSync(join(tmpdir(), 'oculus-e2e-')), 'early_ct.nii.gz');
    copyFileSync(CT, file);
    await uploadAndStart(page, file, 'mock-early');
    const finishing = page.getByTestId('finishing');
    await finishing.waitFor({ timeout: 30_000 });
    await waitForRenderedScene(page, 30_000); // drawn from the published GLB
    const status = await page.getByTestId('job-status').textContent();
    if (status === 'Completed' || !(await finishing.isVisible())) throw new Error(`the scene was drawn only once the job ended (${status})`);
    // headless Chromium draws with SwiftShader: the viewer says its lighting is simplified
    await page.getByTestId('software-rendering').filter({ hasText: 'No GPU: simplified lighting' }).waitFor();
    await shot(page, 'mock-early-01-finishing');
    await waitForCompletion(page, 60_000);
    await page.getByRole('button', { name: 'Download ZIP (everything)' }).waitFor();
    await finishing.waitFor({ state: 'detached' });
    await waitForRenderedScene(page, 10_000); // the same scene stays
  },

  'classifies a brain MRI image': async (page, base) => {
    await signIn(page, base, 'clinician@example.org', 'pw', 'mock-mri');
    await uploadAndStart(page, brainImage(), 'mock-mri');
    await waitForCompletion(page, 60_000);
    await checkClassification(page, 'mock-mri');
    await page.getByTestId('model-info').filter({ hasText: 'measured accuracy 93.4 %' }).waitFor();
  },

  'phone layout at 390x844: tabs, no sideways scroll, touch orbit and pinch': phoneLayout,

  'orientation, standard views, selection, slice tools, job address and named downloads': orientationAndSelection,

  'Escape closes dialogs, Retry after a failure, degraded engine summary, shared link': dialogsRetryAndLinks,

  'TotalSegmentator task picker only where the engine has it; MR routed to total_mr': taskPickerBothWays,
};
