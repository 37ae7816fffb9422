#!/usr/bin/env node
// Benchmark against a running local stack (OCULUS_WEB_URL, e.g. `scripts/oculus-local up`):
// upload click -> 3D visible for ../shared/data/ct/example_ct.nii.gz, and reopening the finished
// job (from the list, and by its address), from the app's own performance marks, with the
// request waterfall of each. Targets (issue 15): <= 5 s and <= 2 s on this machine's software GL.
// Runs BENCH_RUNS times (default 3) and prints each run and the medians; writes
// test-results/stack-timing.json.
//   OCULUS_WEB_URL=http://127.0.0.1:8004 node bench/stack-timing.mjs
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FRONTEND, launch } from '../e2e/harness.mjs';
import { TARGETS_MS, describeTiming, measureUploadAndReopen } from '../e2e/timing.mjs';

const base = process.env.OCULUS_WEB_URL?.replace(/\/+$/, '');
if (!base) throw new Error('set OCULUS_WEB_URL to a running local stack (scripts/oculus-local up)');
const email = process.env.OCULUS_E2E_EMAIL ?? 'demo@oculus.local';
const password = process.env.OCULUS_E2E_PASSWORD ?? 'Oculus-demo-2024!';
const runs = Number(process.env.BENCH_RUNS ?? 3);

const results = [];
for (let i = 0; i < runs; i++) {
  const { context, close } = await launch(); // a fresh profile each run: nothing cached
  try {
    const page = await context.newPage();
    const t = await measureUploadAndReopen(page, base, { email, password, prefix: `bench-timing-${i}` });
    console.log(`run ${i + 1}\n${describeTiming(t)}`);
    results.push(t);
  } finally {
    await close();
  }
}
const median = (k) => results.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(results.length / 2)];
const summary = { runs, uploadTo3dMs: median('uploadTo3dMs'), reopenMs: median('reopenMs'), reopenByAddressMs: median('reopenByAddressMs'), targets: TARGETS_MS };
console.log(`median of ${runs}: upload -> 3D ${summary.uploadTo3dMs} ms (target ${TARGETS_MS.uploadTo3d}), reopen ${summary.reopenMs} ms (target ${TARGETS_MS.reopen}), reopen by address ${summary.reopenByAddressMs} ms`);
mkdirSync(join(FRONTEND, 'test-results'), { recursive: true });
writeFileSync(join(FRONTEND, 'test-results', 'stack-timing.json'), JSON.stringify({ summary, results }, null, 2));
