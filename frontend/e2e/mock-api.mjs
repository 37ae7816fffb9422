// An in-page mock of the Oculus API, Cognito and S3 (page.route on the app's own origin), with a
// job that moves uploading -> queued -> processing -> completed as the app polls it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED_DATA } from './harness.mjs';
import { bodyLikeStructures, lungs, makeGlb, reportFor } from './glb.mjs';

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const ID_TOKEN = `${b64({ alg: 'none' })}.${b64({ sub: 'user-1', email: 'clinician@example.org', exp: Math.floor(Date.now() / 1000) + 3600 })}.x`;

/** GET /capabilities of an engine with TotalSegmentator's fast total and total_mr models, or without any. */
export function capabilitiesOf(totalsegmentator) {
  const tasks = totalsegmentator
    ? [
        { name: 'total', weights: false, fastWeights: true, structures: ['kidney_left', 'kidney_right', 'liver', 'lung_upper_lobe_left', 'spleen'] },
        { name: 'total_mr', weights: false, fastWeights: true, structures: ['kidney_left', 'liver', 'prostate', 'spleen'] },
      ]
    : [];
  return { known: true, publishedAt: new Date().toISOString(), engineVersion: '0.4.0', default: totalsegmentator ? 'totalsegmentator' : 'threshold', totalsegmentator: { installed: totalsegmentator, usable: totalsegmentator, version: totalsegmentator ? '2.18.0' : null, tasks } };
}

/** `result` ({glb, report}) serves an engine's own output instead of the synthetic spheres. */
export function mockBackend({ structures = [...bodyLikeStructures(12), ...lungs()], segments = 24, degraded = false, result = null, totalsegmentator = false } = {}) {
  const capabilities = capabilitiesOf(totalsegmentator);
  /** the options of each POST /process/totalseg, newest last */
  const processed = [];
  const glb = result?.glb ?? makeGlb(structures, segments);
  const report = result?.report ?? reportFor(structures);
  const names = report.structures.map((s) => s.name);
  const jobs = new Map();
  let n = 0;
  const files = {
    'scene.glb': () => glb,
    'report.json': () => Buffer.from(JSON.stringify(report)),
    'segmentation.nii.gz': () => readFileSync(join(SHARED_DATA, 'ct/example_seg.nii.gz')),
    'scan.nii.gz': () => readFileSync(join(SHARED_DATA, 'ct/example_ct_sm.nii.gz')),
    'result.zip': () => Buffer.from('PK\x05\x06' + '\0'.repeat(18), 'binary'),
    'prediction.json': () => Buffer.from('{}'),
  };
  const segFiles = ['scene.glb', 'report.json', 'segmentation.nii.gz', 'scan.nii.gz', 'result.zip'].map((name) => ({ name, size: files[name]().length }));

  // A file named *failonce* fails the first time it is processed (to test Retry).
  const failedOnce = new Set();
  // A file named *early* publishes its 3D scene at 80 % and holds there for EARLY_HOLD_POLLS
  // polls before it completes, as the engine publishes the viewer's files before the job ends.
  const EARLY_HOLD_POLLS = 24;
  const earlyFiles = segFiles.filter((f) => ['scene.glb', 'report.json'].includes(f.name));
  const early = (job) => /early/.test(job.input?.filename ?? '');

  // A job moves at most one step per poll cycle, whether the app asks for the list, for the job's
  // own view (while it watches that job), or for both at once.
  const STEP_MS = 200;
  function advance(job) {
    const now = Date.now();
    if (now - (job.steppedAt ?? 0) < STEP_MS) return;
    job.steppedAt = now;
    if (job.status === 'processing' && /failonce/.test(job.input.filename) && !failedOnce.has(job.input.filename)) {
      failedOnce.add(job.input.filename);
      Object.assign(job, { status: 'failed', stage: null, error: { code: 'engine_error', message: 'the engine stopped while meshing' } });
      return;
    }
    // each poll moves an active job one step, so the UI shows every stage
    if (job.status === 'queued') Object.assign(job, { status: 'processing', stage: 'segmenting', progress: 30 });
    else if (job.status === 'processing' && job.progress < 80) Object.assign(job, { stage: 'meshing', progress: 80 });
    else if (job.status === 'processing' && early(job) && (job.held = (job.held ?? 0) + 1) < EARLY_HOLD_POLLS) Object.assign(job, { stage: 'exporting', progress: 88 });
    else if (job.status === 'processing') {
      job.status = 'completed';
      job.stage = 'done';
      job.progress = 100;
      if (job.task === 'classify') {
        job.files = [{ name: 'prediction.json', size: 2 }];
        job.result = { is_tumor: true, predicted_class: 'glioma', confidence: 0.91, probabilities: { glioma: 0.91, meningioma: 0.05, no_tumor: 0.02, pituitary: 0.02 }, recommendation: 'Findings suggest a glioma; refer for specialist review.', inconclusive: false, model: { name: 'oculus-brain-mri', version: '1.0.0' } };
        job.engine = { name: 'onnxruntime', version: '1.31', degraded: false };
      } else {
        job.files = segFiles;
        job.result = { structures: names.length, structureNames: names, triangles: 1000, coordinateSystem: 'RAS', warnings: [] };
        const mr = /_mr/.test(job.input.filename) && job.options?.totalseg_task === 'total';
        job.engine = mr
          ? { name: 'totalsegmentator', version: '2.18.0', task: 'total_mr', degraded: false, note: '', modality: 'MR', routedFrom: 'total' }
          : degraded || /fallback/.test(job.input.filename)
          ? { name: 'threshold', version: '0.1.0', task: 'total', degraded: true, note: 'TotalSegmentator is not installed (/opt/venv/lib/python3.11/site-packages/totalsegmentator missing); set TOTALSEG_HOME_DIR=/opt/weights and run `totalseg_download_weights -t total`.' }
          : { name: 'TotalSegmentator', version: '2.18', task: 'total', degraded: false, note: null };
      }
    }
    job.updatedAt = new Date().toISOString();
  }

  async function handle(route, base) {
    const req = route.request();
    const url = new URL(req.url());
    const path = url.pathname;
    const body = () => JSON.parse(req.postData() || '{}');
    const ok = (o, status = 200) => route.fulfill({ status, contentType: 'application/json', body: JSON.stringify({ ok: true, ...o }) });
    if (path === '/config.json') return ok({ ApiUrl: `${base}/mockapi`, UserPoolId: 'pool', UserPoolClientId: 'client', Region: 'us-east-1', CognitoEndpoint: `${base}/mockidp`, AuthFlow: 'USER_PASSWORD_AUTH' });
    if (path === '/mockidp/' || path === '/mockidp') {
      const target = req.headers()['x-amz-target'] ?? '';
      const p = body();
      if (target.endsWith('InitiateAuth') && p.AuthParameters?.PASSWORD === 'wrong') return route.fulfill({ status: 400, contentType: 'application/json', body: JSON.stringify({ __type: 'NotAuthorizedException', message: 'Incorrect username or password.' }) });
      return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ AuthenticationResult: { IdToken: ID_TOKEN, AccessToken: 'access', RefreshToken: 'refresh', ExpiresIn: 3600 } }) });
    }
    if (path.startsWith('/mocks3/')) {
      if (req.method() === 'PUT') return route.fulfill({ status: 200, headers: { ETag: '"etag"' }, body: '' });
      const name = decodeURIComponent(path.split('/').slice(3).join('/'));
      return route.fulfill({ status: 200, headers: { 'Content-Type': 'application/octet-stream', 'Content-Disposition': `attachment; filename="${name}"` }, body: files[name]() });
    }
    if (!path.startsWith('/mockapi/')) return route.fallback();
    const api = path.slice('/mockapi'.length);
    if (req.headers().authorization !== `Bearer ${ID_TOKEN}`) return route.fulfill({ status: 401, contentType: 'application/json', body: JSON.stringify({ ok: false, error: { code: 'unauthorized', message: 'no token' } }) });
    if (api === '/upload' && req.method() === 'POST') {
      const { filename, size } = body();
      const jobId = (++n).toString(16).padStart(32, '0');
      const now = new Date(Date.now() + n).toISOString();
      jobs.set(jobId, { jobId, status: 'uploading', kind: /\.(jpe?g|png)$/i.test(filename) ? 'image' : 'volume', task: null, input: { filename, size }, files: [], createdAt: now, updatedAt: now });
      return ok({ jobId, job: jobs.get(jobId), upload: { method: 'PUT', url: `${base}/mocks3/uploads/${filename}`, expiresIn: 900 } }, 201);
    }
    let m = api.match(/^\/upload\/(\w+)\/complete$/);
    if (m) return ok({ job: Object.assign(jobs.get(m[1]), { status: 'uploaded' }) });
    m = api.match(/^\/process\/(totalseg|classify)$/);
    if (m) {
      const { jobId, ...options } = body();
      const job = jobs.get(jobId);
      if (m[1] === 'totalseg') processed.push(options);
      Object.assign(job, { status: 'queued', task: m[1], stage: 'queued', progress: 0, options });
      return ok({ jobId: job.jobId, status: 'queued', task: m[1] }, 202);
    }
    if (api === '/jobs') {
      for (const j of jobs.values()) advance(j);
      return ok({ jobs: [...jobs.values()].reverse(), nextCursor: null });
    }
    m = api.match(/^\/jobs\/(\w+)$/);
    if (m && req.method() === 'DELETE') return jobs.delete(m[1]), ok({ jobId: m[1], deleted: true });
    if (m) {
      // one job's own view lists what a running job has published (the list shows only what is stored)
      const job = jobs.get(m[1]);
      if (job) advance(job);
      // a running job's early files come with their own (storage) URLs, as the backend gives them
      const listed = earlyFiles.map((f) => ({ ...f, url: `${base}/mocks3/results/${f.name}` }));
      return ok({ job: job && job.status === 'processing' && early(job) && job.progress >= 88 ? { ...job, files: listed } : job });
    }
    m = api.match(/^\/files\/(\w+)\/(.+)$/);
    if (m) return ok({ url: `${base}/mocks3/results/${m[2]}`, expiresIn: 300 });
    if (api === '/capabilities') return ok(capabilities);
    if (api === '/model-info') return ok({ name: 'oculus-brain-mri', version: '1.0.0', metrics: { accuracy: 0.934 } });
    return route.fulfill({ status: 404, contentType: 'application/json', body: JSON.stringify({ ok: false, error: { code: 'not_found', message: api } }) });
  }

  return { handle, jobs, processed };
}
