import { describe, expect, it } from 'vitest';
import { ApiClient, ApiError, classificationOf } from './client';
import { fakeFetch, json } from '../test/helpers';

function client(handler: Parameters<typeof fakeFetch>[0], tokens = ['t1', 't2']) {
  const f = fakeFetch(handler);
  const forced: boolean[] = [];
  const api = new ApiClient({
    baseUrl: 'http://api.test/v1/',
    fetchImpl: f.fetch,
    getToken: async (force) => (forced.push(!!force), force ? tokens[1] : tokens[0]),
  });
  return { api, calls: f.calls, forced };
}

describe('ApiClient', () => {
  it('sends the bearer id token and JSON body to the right route', async () => {
    const { api, calls } = client(() => json({ jobId: 'j1', upload: { method: 'PUT', url: 'http://s3/put' } }));
    const out = await api.createUpload({ filename: 'ct.nii.gz', size: 10, contentType: 'application/gzip' });
    expect(out.jobId).toBe('j1');
    expect(calls[0].url).toBe('http://api.test/v1/upload');
    expect(calls[0].init.method).toBe('POST');
    expect((calls[0].init.headers as Record<string, string>).Authorization).toBe('Bearer t1');
    expect(JSON.parse(calls[0].init.body as string)).toEqual({ filename: 'ct.nii.gz', size: 10, contentType: 'application/gzip' });
  });

  it('retries once with a refreshed token after a 401', async () => {
    let n = 0;
    const { api, calls, forced } = client(() => (++n === 1 ? json({ ok: false, error: { code: 'unauthorized', message: 'expired' } }, 401) : json({ jobId: 'j', status: 'queued' })));
    const job = await api.getJob('j');
    expect(job.status).toBe('queued');
    expect(forced).toEqual([false, true]);
    expect((calls[1].init.headers as Record<string, string>).Authorization).toBe('Bearer t2');
  });

  it('turns the error envelope into a typed ApiError', async () => {
    const { api } = client(() => json({ ok: false, error: { code: 'job_not_found', message: 'no such job' } }, 404));
    const err = await api.getJob('nope').catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'job_not_found', message: 'no such job', status: 404 });
  });

  it('reports a non-JSON failure with the HTTP status', async () => {
    const { api } = client(() => new Response('<html>bad gateway</html>', { status: 502 }));
    await expect(api.listJobs()).rejects.toMatchObject({ code: 'http_502', status: 502 });
  });

  it('reports an unreachable service as network_error', async () => {
    const { api } = client(() => Promise.reject(new TypeError('Failed to fetch')));
    await expect(api.listJobs()).rejects.toMatchObject({ code: 'network_error', status: 0 });
  });

  it('lists jobs with limit, cursor and status in the query', async () => {
    const { api, calls } = client(() => json({ jobs: [{ jobId: 'a', status: 'completed' }], nextCursor: 'c2' }));
    const page = await api.listJobs({ limit: 20, cursor: 'abc/=', status: 'completed' });
    expect(new URL(calls[0].url).searchParams.get('cursor')).toBe('abc/=');
    expect(calls[0].url).toContain('limit=20');
    expect(calls[0].url).toContain('status=completed');
    expect(page).toEqual({ jobs: [{ jobId: 'a', status: 'completed' }], nextCursor: 'c2' });
  });

  it('accepts a job wrapped as {job} or bare', async () => {
    const { api } = client((url) => (url.endsWith('/complete') ? json({ job: { jobId: 'w', status: 'uploaded' } }) : json({ jobId: 'b', status: 'queued' }, 202)));
    expect((await api.completeUpload('w')).status).toBe('uploaded');
    expect((await api.startClassify('b')).jobId).toBe('b');
  });

  it('names a model version for a classify job only when one is chosen', async () => {
    const { api, calls } = client(() => json({ jobId: 'j', status: 'queued' }, 202));
    await api.startClassify('j', 'v1');
    await api.startClassify('j');
    expect(calls.map((c) => JSON.parse(c.init.body as string))).toEqual([{ jobId: 'j', modelVersion: 'v1' }, { jobId: 'j' }]);
  });

  it('posts totalseg options flat next to the jobId', async () => {
    const { api, calls } = client(() => json({ jobId: 'j', status: 'queued' }, 202));
    await api.startTotalseg('j', { device: 'gpu', fast: true, reduction_percent: 90, stl: false });
    expect(calls[0].url).toBe('http://api.test/v1/process/totalseg');
    expect(JSON.parse(calls[0].init.body as string)).toEqual({ jobId: 'j', device: 'gpu', fast: true, reduction_percent: 90, stl: false });
  });

  it('asks for a presigned URL (encoded path, redirect=false) and fetches it without the token', async () => {
    const { api, calls } = client((url) => (url.startsWith('http://api.test') ? json({ ok: true, url: 'http://s3.test/bucket/key?X-Amz-Signature=abc' }) : new Response('solid x', { status: 200 })));
    const blob = await api.fileBlob('j 1', 'stl/liver left.stl');
    expect(await blob.text()).toBe('solid x');
    expect(calls[0].url).toBe('http://api.test/v1/files/j%201/stl/liver%20left.stl?redirect=false');
    expect(calls[1].url).toBe('http://s3.test/bucket/key?X-Amz-Signature=abc');
    expect(calls[1].init.headers).toBeUndefined();
  });

  it("opens a running job's early file through the URL its view listed, asking afresh once that has expired", async () => {
    const listed = 'http://s3.test/bucket/scene.glb?X-Amz-Signature=listed';
    let listedAnswer = new Response('glTF', { status: 200 });
    const { api, calls } = client((url) => (url === listed ? listedAnswer : url.startsWith('http://api.test') ? json({ url: 'http://s3.test/bucket/scene.glb?X-Amz-Signature=fresh' }) : new Response('glTF fresh', { status: 200 })));
    expect(await (await api.fileBlob('j', 'scene.glb', undefined, listed)).text()).toBe('glTF');
    expect(calls.map((c) => c.url)).toEqual([listed]); // no API call
    listedAnswer = new Response('<Error>Request has expired</Error>', { status: 403 });
    expect(await (await api.fileBlob('j', 'scene.glb', undefined, listed)).text()).toBe('glTF fresh');
    expect(calls.slice(1).map((c) => c.url)).toEqual([listed, 'http://api.test/v1/files/j/scene.glb?redirect=false', 'http://s3.test/bucket/scene.glb?X-Amz-Signature=fresh']);
  });

  it('reports a storage failure as a typed error', async () => {
    const { api } = client((url) => (url.startsWith('http://api.test') ? json({ url: 'http://s3.test/k' }) : new Response('<Error/>', { status: 403 })));
    await expect(api.fileJson('j', 'report.json')).rejects.toMatchObject({ code: 'storage_error', status: 403 });
  });

  it('refuses to call an authenticated route without a token', async () => {
    const api = new ApiClient({ baseUrl: 'http://x', getToken: async () => null, fetchImpl: fakeFetch(() => json({})).fetch });
    await expect(api.listJobs()).rejects.toMatchObject({ code: 'unauthenticated' });
  });

  it('calls /healthz without a token', async () => {
    const f = fakeFetch(() => json({ ok: true }));
    const api = new ApiClient({ baseUrl: 'http://x', getToken: async () => null, fetchImpl: f.fetch });
    expect(await api.health()).toEqual({ ok: true });
    expect((f.calls[0].init.headers as Record<string, string>).Authorization).toBeUndefined();
  });
});

describe('classificationOf', () => {
  it('finds a classification only when it has probabilities', () => {
    const result = { predicted_class: 'glioma', probabilities: { glioma: 0.9, meningioma: 0.05, no_tumor: 0.03, pituitary: 0.02 } };
    expect(classificationOf({ jobId: 'a', status: 'completed', result } as never)?.predicted_class).toBe('glioma');
    expect(classificationOf({ jobId: 'a', status: 'completed', result: { structures: 3 } } as never)).toBeNull();
  });
});
