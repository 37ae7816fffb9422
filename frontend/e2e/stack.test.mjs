// The real local stack (OCULUS_WEB_URL): moto Cognito + the Lambda handlers + the inference server.
// Credentials: OCULUS_E2E_EMAIL / OCULUS_E2E_PASSWORD, defaulting to the local stack's demo user.
import { CT, brainImage, checkClassification, explore, signIn, uploadAndStart, waitForCompletion } from './flows.mjs';
import { shot, waitForRenderedScene } from './harness.mjs';
import { PHONE, assertNoSidewaysScroll } from './viewer-flows.mjs';
import { describeTiming, measureUploadAndReopen } from './timing.mjs';

const EMAIL = process.env.OCULUS_E2E_EMAIL ?? process.env.OCULUS_DEMO_EMAIL ?? 'demo@oculus.local';
const PASSWORD = process.env.OCULUS_E2E_PASSWORD ?? process.env.OCULUS_DEMO_PASSWORD ?? 'Oculus-demo-2024!';
// Segmenting on CPU takes minutes on a laptop.
const JOB_TIMEOUT_MS = Number(process.env.OCULUS_E2E_JOB_TIMEOUT_MS ?? 15 * 60_000);

export const tests = {
  'segments the shared CT and explores it': async (page, base) => {
    await signIn(page, base, EMAIL, PASSWORD, 'stack-ct');
    await uploadAndStart(page, CT, 'stack-ct', { fast: true });
    await page.getByTestId('job-status').waitFor({ timeout: 60_000 });
    await shot(page, 'stack-ct-03-queued');
    await waitForCompletion(page, JOB_TIMEOUT_MS);
    // Hide an outer surface: an inner one (the skeleton inside the body) may be fully occluded.
    // the structure list fills in once report.json has loaded, a moment after "Completed"
    await page.locator('[data-structure]').first().waitFor({ timeout: 60_000 });
    const names = await page.locator('[data-structure]').evaluateAll((els) => els.map((e) => e.getAttribute('data-structure')));
    const structure = names.includes('body') ? 'body' : names[0];
    const out = await explore(page, 'stack-ct', structure);
    console.log(`  rendered ${out.pixels} px; ZIP ${out.zipBytes} bytes; toggled ${structure}`);
  },

  // Records where the time goes (marks and request waterfall) and prints it; the targets are
  // reported by bench/stack-timing.mjs, not asserted here.
  'times upload to 3D and reopening a finished job': async (page, base) => {
    const t = await measureUploadAndReopen(page, base, { email: EMAIL, password: PASSWORD, prefix: 'stack-timing' });
    console.log(describeTiming(t));
    if (!(t.uploadTo3dMs > 0 && t.reopenMs > 0)) throw new Error(`timing marks missing: ${JSON.stringify(t)}`);
  },

  'classifies a brain MRI image': async (page, base) => {
    await signIn(page, base, EMAIL, PASSWORD, 'stack-mri');
    await uploadAndStart(page, brainImage(), 'stack-mri');
    await waitForCompletion(page, JOB_TIMEOUT_MS);
    await checkClassification(page, 'stack-mri');
  },

  'works on a phone: one panel at a time, no sideways scroll': async (page, base) => {
    await page.setViewportSize(PHONE);
    await signIn(page, base, EMAIL, PASSWORD, 'stack-phone');
    await assertNoSidewaysScroll(page, 'jobs');
    // Open a finished segmentation of this user, or make one.
    const done = page.getByTestId('job-row').filter({ hasText: 'Segmentation' }).and(page.locator('[data-status=completed]'));
    const found = await done.first().waitFor({ timeout: 10_000 }).then(() => true, () => false);
    if (!found) {
      await uploadAndStart(page, CT, 'stack-phone', { fast: true });
      await waitForCompletion(page, JOB_TIMEOUT_MS);
    } else await done.first().click();
    await waitForRenderedScene(page, 120_000);
    const box = await page.getByTestId('scene-container').boundingBox();
    if (box.width < 340) throw new Error(`the 3D view is ${box.width} px wide on a phone`);
    await assertNoSidewaysScroll(page, 'viewer');
    await shot(page, 'stack-phone-viewer');
    await page.getByRole('tab', { name: 'Structures' }).click();
    await page.getByRole('list', { name: 'Structures by system' }).waitFor();
    await assertNoSidewaysScroll(page, 'structures');
    await shot(page, 'stack-phone-structures');
  },
};
