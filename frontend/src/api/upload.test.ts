import { describe, expect, it, vi } from 'vitest';
import { ApiClient } from './client';
import { uploadFile, uploadParts, type PutFn } from './upload';
import { fakeFetch, json } from '../test/helpers';

const file = (size: number, name = 'ct.nii.gz') => new File([new Uint8Array(size).map((_, i) => i % 251)], name);

function apiWith(upload: unknown) {
  const f = fakeFetch((url, init) => {
    if (url.endsWith('/upload')) return json({ jobId: 'j1', upload });
    if (url.endsWith('/upload/j1/complete')) return json({ jobId: 'j1', status: 'uploaded', parts: JSON.parse(init.body as string).parts ?? null });
    return json({ ok: false, error: { code: 'nope', message: url } }, 404);
  });
  return { api: new ApiClient({ baseUrl: 'http://api', getToken: async () => 't', fetchImpl: f.fetch }), calls: f.calls };
}

describe('uploadFile', () => {
  it('PUTs a small file once with its content type and reports byte progress', async () => {
    const { api, calls } = apiWith({ method: 'PUT', url: 'http://s3/obj', headers: { 'Content-Type': 'application/gzip' } });
    const seen: number[] = [];
    const put: PutFn = vi.fn(async (_url, body, _h, onProgress) => {
      onProgress(body.size / 2);
      onProgress(body.size);
      return { etag: '"e"' };
    });
    const out = await uploadFile(api, file(1000), { put, onProgress: (l) => seen.push(l) });
    expect(put).toHaveBeenCalledWith('http://s3/obj', expect.any(File), { 'Content-Type': 'application/gzip' }, expect.any(Function), undefined);
    expect(seen).toEqual([500, 1000]);
    expect(out.job.status).toBe('uploaded');
    expect(JSON.parse(calls[0].init.body as string)).toMatchObject({ filename: 'ct.nii.gz', size: 1000, contentType: 'application/gzip' });
    expect(JSON.parse(calls[1].init.body as string)).toEqual({});
  });

  it('uploads multipart parts, retries a failed part, and completes with ETags in order', async () => {
    const parts = [1, 2, 3].map((n) => ({ partNumber: n, url: `http://s3/part${n}` }));
    const { api, calls } = apiWith({ multipart: { uploadId: 'u', partSize: 400, parts } });
    const attempts: Record<string, number> = {};
    const sizes: Record<string, number> = {};
    const put: PutFn = async (url, body, _h, onProgress) => {
      attempts[url] = (attempts[url] ?? 0) + 1;
      sizes[url] = body.size;
      onProgress(body.size);
      if (url.endsWith('part2') && attempts[url] < 3) throw new Error('connection reset');
      return { etag: `"etag-${url.slice(-1)}"` };
    };
    const out = await uploadFile(api, file(1000), { put, retryDelayMs: () => 0 });
    expect(attempts).toEqual({ 'http://s3/part1': 1, 'http://s3/part2': 3, 'http://s3/part3': 1 });
    expect(sizes).toEqual({ 'http://s3/part1': 400, 'http://s3/part2': 400, 'http://s3/part3': 200 });
    expect(JSON.parse(calls[1].init.body as string).parts).toEqual([
      { partNumber: 1, etag: '"etag-1"' },
      { partNumber: 2, etag: '"etag-2"' },
      { partNumber: 3, etag: '"etag-3"' },
    ]);
    expect(out.jobId).toBe('j1');
  });

  it('accepts the flat multipart shape the Lambda answers', async () => {
    const { api, calls } = apiWith({ method: 'multipart', uploadId: 'u', partSize: 600, parts: [{ partNumber: 1, url: 'http://s3/a' }, { partNumber: 2, url: 'http://s3/b' }], expiresIn: 900 });
    const put: PutFn = async (url) => ({ etag: `"${url.slice(-1)}"` });
    await uploadFile(api, file(1000), { put });
    expect(JSON.parse(calls[1].init.body as string).parts).toEqual([{ partNumber: 1, etag: '"a"' }, { partNumber: 2, etag: '"b"' }]);
  });

  it('refuses an upload method it does not know', async () => {
    const { api } = apiWith({ method: 'inline' });
    await expect(uploadFile(api, file(10), { put: async () => ({ etag: 'x' }) })).rejects.toMatchObject({ code: 'upload_unsupported' });
  });

  it('gives up on a part after the allowed attempts and never completes', async () => {
    const { api, calls } = apiWith({ multipart: { uploadId: 'u', partSize: 600, parts: [{ partNumber: 1, url: 'http://s3/p1' }, { partNumber: 2, url: 'http://s3/p2' }] } });
    const put: PutFn = async (url) => {
      if (url.endsWith('p2')) throw new Error('boom');
      return { etag: '"x"' };
    };
    await expect(uploadFile(api, file(1000), { put, partAttempts: 2, retryDelayMs: () => 0 })).rejects.toThrow('boom');
    expect(calls.some((c) => c.url.endsWith('/complete'))).toBe(false);
  });

  it('refuses a part answer without an ETag (bucket CORS must expose it)', async () => {
    const put: PutFn = async () => ({ etag: null });
    await expect(
      uploadParts(new Blob([new Uint8Array(10)]), { multipart: { uploadId: 'u', partSize: 10, parts: [{ partNumber: 1, url: 'u1' }] } }, { put, partAttempts: 1 }),
    ).rejects.toMatchObject({ code: 'upload_failed' });
  });

  it('reports progress summed over parts and rolled back for a failed attempt', async () => {
    const seen: number[] = [];
    let first = true;
    const put: PutFn = async (_u, body, _h, onProgress) => {
      onProgress(body.size);
      if (first) {
        first = false;
        throw new Error('flaky');
      }
      return { etag: '"e"' };
    };
    await uploadParts(new Blob([new Uint8Array(100)]), { multipart: { uploadId: 'u', partSize: 100, parts: [{ partNumber: 1, url: 'u1' }] } }, { put, retryDelayMs: () => 0, onProgress: (l) => seen.push(l) });
    expect(seen).toEqual([100, 0, 100]);
  });
});
