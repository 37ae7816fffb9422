#!/usr/bin/env node
// Benchmark, headless Chromium (SwiftShader software WebGL): time from opening a completed job to
// the first rendered frame, and frame time while orbiting, for a full-size case (~100 structures,
// triangle budget of a 90 %-reduced TotalSegmentator scene) against the built app with a mocked API.
// Prints the numbers and the ratio against a 12-structure baseline measured in the same run.
// Real data: with OCULUS_BENCH_RESULTS=dir1,dir2 (engine output folders holding scene.glb and
// report.json, e.g. from `oculus mesh ../shared/data/ct/example_seg.nii.gz -o DIR`), each engine
// result is measured the same way beside the synthetic ones.
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { bodyLikeStructures } from '../e2e/glb.mjs';
import { launch, startPreview } from '../e2e/harness.mjs';
import { mockBackend } from '../e2e/mock-api.mjs';
import { signIn, uploadAndStart, waitForCompletion, CT } from '../e2e/flows.mjs';

const SEGMENTS = Number(process.env.BENCH_SEGMENTS ?? 40); // 40 -> 3,200 triangles per structure

async function measure(context, base, count, result = null) {
  const page = await context.newPage();
  const backend = mockBackend({ structures: bodyLikeStructures(count), segments: SEGMENTS, result });
  const tag = result ? `real-${result.name}` : count;
  await page.route(`${base}/**`, (route) => backend.handle(route, base));
  await signIn(page, base, 'bench@example.org', 'pw', `bench-${tag}`);
  await uploadAndStart(page, CT, `bench-${tag}`);
  await waitForCompletion(page, 60_000);
  // open the job afresh: select another view, then the job again, and time to the first frame
  await page.evaluate(() => performance.clearMarks());
  await page.reload();
  await page.getByTestId('job-row').first().click();
  await page.waitForFunction(() => performance.getEntriesByName('oculus:first-frame').length > 0 && window.__oculusViewer, null, { timeout: 120_000 });
  const ttff = await page.evaluate(() => performance.getEntriesByName('oculus:first-frame')[0].startTime - performance.getEntriesByName('oculus:open-job')[0].startTime);
  const info = await page.evaluate(() => ({ structures: window.__oculusViewer.structures, triangles: window.__oculusViewer.triangles }));
  await page.evaluate(() => window.__oculusViewer.orbit(10)); // warm-up
  const times = await page.evaluate(() => window.__oculusViewer.orbit(60));
  times.sort((a, b) => a - b);
  await page.close();
  return { ...info, ttffMs: ttff, frameMedianMs: times[Math.floor(times.length / 2)], frameP95Ms: times[Math.floor(times.length * 0.95)] };
}

const preview = await startPreview();
const { context, close } = await launch();
try {
  const baseline = await measure(context, preview.url, 12);
  const full = await measure(context, preview.url, 100);
  const fmt = (r) => `${r.structures} structures, ${r.triangles} triangles: first frame ${r.ttffMs.toFixed(0)} ms, orbit frame median ${r.frameMedianMs.toFixed(1)} ms (p95 ${r.frameP95Ms.toFixed(1)} ms)`;
  const ratio = (r) => `first frame ${(r.ttffMs / baseline.ttffMs).toFixed(2)}x, orbit frame ${(r.frameMedianMs / baseline.frameMedianMs).toFixed(2)}x`;
  console.log(`baseline  ${fmt(baseline)}`);
  console.log(`full-size ${fmt(full)}`);
  console.log(`ratio full/baseline: ${ratio(full)}`);
  for (const dir of (process.env.OCULUS_BENCH_RESULTS ?? '').split(',').filter(Boolean)) {
    const result = { name: basename(dir), glb: readFileSync(join(dir, 'scene.glb')), report: JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) };
    const real = await measure(context, preview.url, 0, result);
    console.log(`engine result ${result.name}: ${fmt(real)}`);
    console.log(`ratio ${result.name}/baseline: ${ratio(real)}`);
  }
} finally {
  await close();
  preview.stop();
}
