// The upload form follows what the engine can run (GET /capabilities), both ways, and an MR scan
// is reported as routed to total_mr.
import { join } from 'node:path';
import { signIn, waitForCompletion } from './flows.mjs';
import { SHARED_DATA, shot } from './harness.mjs';
import { mockBackend } from './mock-api.mjs';
import { DESKTOP, PHONE } from './viewer-flows.mjs';

export const MR = join(SHARED_DATA, 'ct/example_mr_sm.nii.gz');

export async function taskPickerBothWays(page, base) {
  // the suite's backend: an engine without TotalSegmentator
  await signIn(page, base, 'clinician@example.org', 'pw', 'mock-engine-none');
  await page.getByTestId('file-input').setInputFiles(MR);
  await page.getByTestId('engine-line').filter({ hasText: 'Approximate engine: TotalSegmentator is not installed on this server' }).waitFor();
  if (await page.getByLabel('TotalSegmentator task').count()) throw new Error('a task picker was offered without TotalSegmentator');
  if (await page.getByLabel(/Fast mode/).count()) throw new Error('fast mode was offered without TotalSegmentator');
  await page.getByTestId('reduction-help').waitFor();
  await shot(page, 'mock-engine-01-approximate');

  // the same app against an engine that published TotalSegmentator's fast models
  const backend = mockBackend({ totalsegmentator: true });
  await page.route(`${base}/**`, (route) => backend.handle(route, base));
  await page.goto(base + '/'); // still signed in: the app asks GET /capabilities again on load
  await page.getByRole('heading', { name: 'New job' }).waitFor({ timeout: 30_000 });
  await page.getByTestId('file-input').setInputFiles(MR);
  const picker = page.getByLabel('TotalSegmentator task');
  await picker.waitFor();
  const offered = await picker.locator('option').evaluateAll((os) => os.map((o) => o.value));
  if (offered.join() !== 'total,total_mr') throw new Error(`tasks offered: ${offered}`);
  const fast = page.getByLabel(/Fast mode/);
  if (!(await fast.isChecked()) || (await fast.isEnabled())) throw new Error('with only the fast models installed, fast mode must be on and fixed');
  await page.getByTestId('structure-subset').locator('summary').click();
  await page.getByLabel('Filter structures').fill('kid');
  await page.getByLabel('Segment kidney left').check();
  await page.getByLabel('Segment kidney right').check();
  await page.getByTestId('structure-subset').filter({ hasText: 'Structures: 2 of 5' }).waitFor();
  await shot(page, 'mock-engine-02-task-picker');
  await page.setViewportSize(PHONE);
  await shot(page, 'phone-engine-02-task-picker');
  await page.setViewportSize(DESKTOP);
  await page.getByRole('button', { name: 'Upload and start' }).click();
  await waitForCompletion(page, 60_000);
  const sent = backend.processed.at(-1);
  if (sent.totalseg_task !== 'total' || sent.fast !== true || sent.roi_subset?.join() !== 'kidney_left,kidney_right') throw new Error(`sent ${JSON.stringify(sent)}`);
  await page.getByTestId('task-routing').filter({ hasText: 'MR scan: using total_mr' }).waitFor({ timeout: 30_000 });
  await shot(page, 'mock-engine-03-mr-routed');
}
