// Where the time goes from "Upload and start" to the 3D view, and when a finished job is opened
// again, from the app's own performance marks and the browser's resource timings (a waterfall).
// Used by the stack browser test (prints it) and by bench/stack-timing.mjs (reports it).
import { join } from 'node:path';
import { signIn, waitForCompletion } from './flows.mjs';
import { SHARED_DATA, waitForRenderedScene } from './harness.mjs';

export const TIMING_CT = join(SHARED_DATA, 'ct/example_ct.nii.gz');
export const TARGETS_MS = { uploadTo3d: 5000, reopen: 2000 };

/** The page's marks and API/storage requests, in ms since `from` (a mark name). */
async function waterfall(page, from) {
  return page.evaluate((fromMark) => {
    const t0 = performance.getEntriesByName(fromMark).at(-1)?.startTime ?? 0;
    const marks = Object.fromEntries(performance.getEntriesByType('mark').filter((m) => m.name.startsWith('oculus:') && m.startTime >= t0).map((m) => [m.name.slice(7), Math.round(m.startTime - t0)]));
    const requests = performance
      .getEntriesByType('resource')
      .filter((r) => r.startTime >= t0 && /\/(upload|process|jobs|files|mocks3|oculus-local|results|assets|config\.json)|X-Amz/i.test(r.name))
      .map((r) => ({ what: r.name.replace(/^https?:\/\/[^/]+/, '').replace(/\?.*$/, '').replace(/[0-9a-f]{32}/g, ':id'), start: Math.round(r.startTime - t0), ms: Math.round(r.duration), bytes: r.encodedBodySize }));
    return { marks, requests };
  }, from);
}

/** Upload the CT and time to the first rendered frame; then reopen the finished job twice. */
export async function measureUploadAndReopen(page, base, { email, password, file = TIMING_CT, prefix = 'timing' }) {
  await signIn(page, base, email, password, prefix);
  await page.getByTestId('file-input').setInputFiles(file);
  await page.evaluate(() => performance.clearMarks());
  await page.getByRole('button', { name: 'Upload and start' }).click();
  await waitForCompletion(page, 600_000);
  await page.waitForFunction(() => performance.getEntriesByName('oculus:first-frame').length > 0, null, { timeout: 120_000 });
  await waitForRenderedScene(page, 60_000);
  const upload = await waterfall(page, 'oculus:upload-click');
  const jobId = await page.evaluate(() => location.pathname.split('/').pop());
  // the server's side: when the job was created and marked completed (same machine, same clock)
  const server = await page.evaluate(async (id) => {
    const { ApiUrl } = await (await fetch('/config.json')).json();
    const { idToken } = JSON.parse(sessionStorage.getItem('oculus.session'));
    const answer = await (await fetch(`${ApiUrl.replace(/\/+$/, '')}/jobs/${id}`, { headers: { Authorization: `Bearer ${idToken}` } })).json();
    const job = answer.job ?? answer;
    const click = performance.timeOrigin + performance.getEntriesByName('oculus:upload-click').at(-1).startTime;
    const frame = performance.timeOrigin + performance.getEntriesByName('oculus:first-frame').at(-1).startTime;
    return { createdMs: Math.round(Date.parse(job.createdAt) - click), completedMs: Math.round(Date.parse(job.updatedAt) - click), completedToFirstFrameMs: Math.round(frame - Date.parse(job.updatedAt)) };
  }, jobId);

  // reopen from the list: home (no job), then a click on the job
  await page.goto(base + '/');
  const row = page.getByTestId('job-row').first();
  await row.waitFor({ timeout: 30_000 });
  await page.evaluate(() => performance.clearMarks());
  await page.evaluate(() => performance.mark('oculus:reopen-click'));
  await row.click();
  await page.waitForFunction(() => performance.getEntriesByName('oculus:first-frame').length > 0, null, { timeout: 60_000 });
  const reopen = await waterfall(page, 'oculus:reopen-click');

  // reopen by its address: a fresh page load of /jobs/{id} (signed in)
  await page.goto(`${base}/jobs/${jobId}`);
  await page.waitForFunction(() => performance.getEntriesByName('oculus:first-frame').length > 0, null, { timeout: 60_000 });
  const address = await waterfall(page, 'navigation-start'); // no such mark: from the page's start
  return {
    jobId,
    uploadTo3dMs: upload.marks['first-frame'],
    reopenMs: reopen.marks['first-frame'],
    reopenByAddressMs: address.marks['first-frame'],
    address,
    server,
    upload,
    reopen,
  };
}

const row = (r) => `    ${String(r.start).padStart(6)} +${String(r.ms).padStart(5)} ms  ${r.what}${r.bytes ? ` (${r.bytes} B)` : ''}`;

export function describeTiming(t) {
  const lines = [
    `upload click -> 3D visible: ${t.uploadTo3dMs} ms (target ${TARGETS_MS.uploadTo3d})`,
    `reopen from the list -> 3D visible: ${t.reopenMs} ms (target ${TARGETS_MS.reopen})`,
    `reopen by address (page load) -> 3D visible: ${t.reopenByAddressMs} ms`,
    `  server: job created at ${t.server.createdMs} ms, completed at ${t.server.completedMs} ms; completed -> 3D visible ${t.server.completedToFirstFrameMs} ms`,
    `  upload marks: ${JSON.stringify(t.upload.marks)}`,
    ...t.upload.requests.map(row),
    `  reopen marks: ${JSON.stringify(t.reopen.marks)}`,
    ...t.reopen.requests.map(row),
    `  reopen by address marks: ${JSON.stringify(t.address.marks)}`,
    ...t.address.requests.map(row),
  ];
  return lines.join('\n');
}
