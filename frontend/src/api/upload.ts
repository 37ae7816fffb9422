// Upload a file to the presigned URL(s) the API hands out: one PUT, or S3 multipart with part retry.
import { ApiError, type ApiClient } from './client';
import type { CreateUploadResponse, Job, MultipartUpload, SinglePutUpload } from './types';

export interface PutResult {
  etag: string | null;
}

/** PUT a blob with byte progress. XMLHttpRequest because fetch reports no upload progress. */
export type PutFn = (
  url: string,
  body: Blob,
  headers: Record<string, string>,
  onProgress: (loaded: number) => void,
  signal?: AbortSignal,
) => Promise<PutResult>;

export const xhrPut: PutFn = (url, body, headers, onProgress, signal) =>
  new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(body.size);
        resolve({ etag: xhr.getResponseHeader('ETag') });
      } else reject(new ApiError('upload_failed', `Storage refused the upload (HTTP ${xhr.status}).`, xhr.status));
    };
    xhr.onerror = () => reject(new ApiError('network_error', 'The upload connection failed.', 0));
    xhr.onabort = () => reject(new DOMException('Upload cancelled', 'AbortError'));
    signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(body);
  });

export interface UploadOptions {
  onProgress?: (loaded: number, total: number) => void;
  signal?: AbortSignal;
  put?: PutFn;
  /** Attempts per multipart part (first try included). */
  partAttempts?: number;
  concurrency?: number;
  /** Wait before retry n (1-based); tests pass 0. */
  retryDelayMs?: (attempt: number) => number;
}

export interface UploadOutcome {
  jobId: string;
  job: Job;
}

export function guessContentType(name: string): string {
  const n = name.toLowerCase();
  if (n.endsWith('.nii.gz') || n.endsWith('.gz')) return 'application/gzip';
  if (n.endsWith('.nii')) return 'application/octet-stream';
  if (n.endsWith('.zip')) return 'application/zip';
  if (n.endsWith('.dcm')) return 'application/dicom';
  if (n.endsWith('.png')) return 'image/png';
  if (n.endsWith('.jpg') || n.endsWith('.jpeg')) return 'image/jpeg';
  return 'application/octet-stream';
}

export async function uploadFile(api: ApiClient, file: File, opts: UploadOptions = {}): Promise<UploadOutcome> {
  const contentType = file.type || guessContentType(file.name);
  const created = await api.createUpload({ filename: file.name, size: file.size, contentType });
  const upload = normalizeUpload(created.upload);
  let job: Job;
  if (isMultipart(upload)) {
    const parts = await uploadParts(file, upload, opts);
    job = await api.completeUpload(created.jobId, parts);
  } else {
    await putSingle(file, upload, contentType, opts);
    job = await api.completeUpload(created.jobId);
  }
  return { jobId: created.jobId, job };
}

function isMultipart(u: CreateUploadResponse['upload']): u is MultipartUpload {
  return 'multipart' in u && !!u.multipart;
}

/** The API answers multipart either nested ({multipart: {...}}) or flat ({method: 'multipart', uploadId, partSize, parts}). */
export function normalizeUpload(u: unknown): CreateUploadResponse['upload'] {
  const o = u as Record<string, unknown>;
  if (o && o.method === 'multipart' && Array.isArray(o.parts))
    return { multipart: { uploadId: String(o.uploadId), partSize: Number(o.partSize), parts: o.parts as MultipartUpload['multipart']['parts'] } };
  if (o && o.method === 'PUT' && typeof o.url === 'string') return o as unknown as SinglePutUpload;
  if (o && 'multipart' in o) return o as unknown as MultipartUpload;
  throw new ApiError('upload_unsupported', `The API offered an upload this app cannot use (${String(o?.method)}).`, 0);
}

async function putSingle(file: File, upload: SinglePutUpload, contentType: string, opts: UploadOptions) {
  const put = opts.put ?? xhrPut;
  const headers = upload.headers ?? { 'Content-Type': contentType };
  await put(upload.url, file, headers, (loaded) => opts.onProgress?.(loaded, file.size), opts.signal);
}

/** Upload parts with bounded concurrency; each part is retried on failure; ETags come back in order. */
export async function uploadParts(
  file: Blob,
  upload: MultipartUpload,
  opts: UploadOptions,
): Promise<{ partNumber: number; etag: string }[]> {
  const { partSize, parts } = upload.multipart;
  const put = opts.put ?? xhrPut;
  const attempts = Math.max(1, opts.partAttempts ?? 4);
  const delay = opts.retryDelayMs ?? ((n: number) => 500 * 2 ** (n - 1));
  const loaded = new Map<number, number>();
  const report = () => opts.onProgress?.([...loaded.values()].reduce((a, b) => a + b, 0), file.size);
  const results: { partNumber: number; etag: string }[] = [];
  const queue = [...parts].sort((a, b) => a.partNumber - b.partNumber);

  async function sendPart(part: { partNumber: number; url: string }) {
    const start = (part.partNumber - 1) * partSize;
    const blob = file.slice(start, Math.min(start + partSize, file.size));
    for (let attempt = 1; ; attempt++) {
      try {
        const { etag } = await put(part.url, blob, {}, (n) => (loaded.set(part.partNumber, n), report()), opts.signal);
        if (!etag) throw new ApiError('upload_failed', 'Storage returned no ETag (check the bucket CORS ExposeHeaders).', 0);
        results.push({ partNumber: part.partNumber, etag });
        return;
      } catch (e) {
        loaded.set(part.partNumber, 0);
        report();
        if ((e as Error).name === 'AbortError' || attempt >= attempts) throw e;
        await sleep(delay(attempt), opts.signal);
      }
    }
  }

  async function worker() {
    for (let part = queue.shift(); part; part = queue.shift()) await sendPart(part);
  }

  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 3, parts.length) }, worker));
  return results.sort((a, b) => a.partNumber - b.partNumber);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(new DOMException('Upload cancelled', 'AbortError'))), { once: true });
  });
}
