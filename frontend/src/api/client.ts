// The one module that talks to the Oculus HTTP API. Field names live in ./types.
import type {
  ApiErrorBody,
  Capabilities,
  ClassifyResult,
  CreateUploadResponse,
  Job,
  JobList,
  JobStatus,
  ModelInfoResponse,
  TotalsegOptions,
} from './types';

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Supplies the Cognito id token; `force` asks for a refreshed one after a 401. */
export type TokenProvider = (force?: boolean) => Promise<string | null>;

export interface ApiClientOptions {
  baseUrl: string;
  getToken: TokenProvider;
  fetchImpl?: typeof fetch;
}

type Method = 'GET' | 'POST' | 'DELETE';

export class ApiClient {
  readonly baseUrl: string;
  private readonly getToken: TokenProvider;
  private readonly fetchImpl: typeof fetch;

  constructor(opts: ApiClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.getToken = opts.getToken;
    this.fetchImpl = opts.fetchImpl ?? ((...a) => fetch(...a));
  }

  createUpload(file: { filename: string; size: number; contentType?: string }): Promise<CreateUploadResponse> {
    return this.json('POST', '/upload', file);
  }

  completeUpload(jobId: string, parts?: { partNumber: number; etag: string }[]): Promise<Job> {
    return this.json<Job | { job: Job }>('POST', `/upload/${enc(jobId)}/complete`, parts ? { parts } : {}).then(unwrapJob);
  }

  startTotalseg(jobId: string, options: TotalsegOptions): Promise<Job> {
    return this.json<Job | { job: Job }>('POST', '/process/totalseg', { jobId, ...options }).then(unwrapJob);
  }

  /** `modelVersion`: one GET /model-info lists; without it the deployment chooses (default or A/B). */
  startClassify(jobId: string, modelVersion?: string): Promise<Job> {
    return this.json<Job | { job: Job }>('POST', '/process/classify', modelVersion ? { jobId, modelVersion } : { jobId }).then(unwrapJob);
  }

  listJobs(params: { limit?: number; cursor?: string | null; status?: JobStatus } = {}): Promise<JobList> {
    const q = new URLSearchParams();
    if (params.limit) q.set('limit', String(params.limit));
    if (params.cursor) q.set('cursor', params.cursor);
    if (params.status) q.set('status', params.status);
    const qs = q.toString();
    return this.json<JobList>('GET', `/jobs${qs ? `?${qs}` : ''}`).then((r) => ({
      jobs: r.jobs ?? [],
      nextCursor: r.nextCursor ?? null,
    }));
  }

  getJob(jobId: string): Promise<Job> {
    return this.json<Job | { job: Job }>('GET', `/jobs/${enc(jobId)}`).then(unwrapJob);
  }

  async deleteJob(jobId: string): Promise<void> {
    await this.request('DELETE', `/jobs/${enc(jobId)}`);
  }

  modelInfo(): Promise<ModelInfoResponse> {
    return this.json('GET', '/model-info');
  }

  capabilities(): Promise<Capabilities> {
    return this.json('GET', '/capabilities');
  }

  health(): Promise<Record<string, unknown>> {
    return this.json('GET', '/healthz', undefined, false);
  }

  /** Path of a result file; `name` may contain '/' (stl/liver.stl), each segment is encoded. */
  filePath(jobId: string, name: string): string {
    return `/files/${enc(jobId)}/${name.split('/').map(enc).join('/')}`;
  }

  /**
   * A short-lived presigned URL of a result file. Asked for as JSON (`?redirect=false`) rather
   * than by following the 302, so no Authorization header ever travels toward S3 and
   * downloads can be plain links.
   */
  async fileUrl(jobId: string, name: string, signal?: AbortSignal): Promise<string> {
    const r = await this.json<{ url: string }>('GET', `${this.filePath(jobId, name)}?redirect=false`, undefined, true, signal);
    if (!r?.url) throw new ApiError('file_url_missing', `No download URL was returned for ${name}.`, 500);
    return r.url;
  }

  /**
   * A result file's bytes. `listed`: the URL the job's own view gave it (a running job's files
   * published early), tried first; once it has expired, the file is asked for afresh.
   */
  async fileBlob(jobId: string, name: string, signal?: AbortSignal, listed?: string): Promise<Blob> {
    return (await this.fetchFile(jobId, name, signal, listed)).blob();
  }

  async fileJson<T>(jobId: string, name: string, signal?: AbortSignal, listed?: string): Promise<T> {
    return (await (await this.fetchFile(jobId, name, signal, listed)).json()) as T;
  }

  private async fetchFile(jobId: string, name: string, signal?: AbortSignal, listed?: string): Promise<Response> {
    if (listed) {
      try {
        return await this.fetchStorage(listed, signal);
      } catch (e) {
        if ((e as Error).name === 'AbortError') throw e;
      }
    }
    return this.fetchStorage(await this.fileUrl(jobId, name, signal), signal);
  }

  private async fetchStorage(url: string, signal?: AbortSignal): Promise<Response> {
    let res: Response;
    try {
      res = await this.fetchImpl(url, { signal });
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      throw new ApiError('network_error', `Storage could not be reached (${(e as Error).message}).`, 0);
    }
    if (!res.ok) throw new ApiError('storage_error', `Storage answered HTTP ${res.status}.`, res.status);
    return res;
  }

  private async json<T>(method: Method, path: string, body?: unknown, auth = true, signal?: AbortSignal): Promise<T> {
    const res = await this.request(method, path, body, auth, signal);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  private async request(method: Method, path: string, body?: unknown, auth = true, signal?: AbortSignal): Promise<Response> {
    let res = await this.send(method, path, body, auth, false, signal);
    if (res.status === 401 && auth) res = await this.send(method, path, body, auth, true, signal);
    if (!res.ok) throw await toApiError(res);
    return res;
  }

  private async send(method: Method, path: string, body: unknown, auth: boolean, forceRefresh: boolean, signal?: AbortSignal) {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (auth) {
      const token = await this.getToken(forceRefresh);
      if (!token) throw new ApiError('unauthenticated', 'Please sign in again.', 401);
      headers.Authorization = `Bearer ${token}`;
    }
    try {
      return await this.fetchImpl(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect: 'follow',
        signal,
      });
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      throw new ApiError('network_error', `The service could not be reached (${(e as Error).message}).`, 0);
    }
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

function unwrapJob(r: Job | { job: Job }): Job {
  return 'job' in r && r.job && typeof r.job === 'object' ? r.job : (r as Job);
}

async function toApiError(res: Response): Promise<ApiError> {
  let body: { error?: ApiErrorBody; message?: string; detail?: unknown } | null = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON (gateway or S3 error page) */
  }
  const code = body?.error?.code ?? (res.status === 401 ? 'unauthenticated' : `http_${res.status}`);
  const message = body?.error?.message ?? body?.message ?? `Request failed with HTTP ${res.status}.`;
  return new ApiError(code, message, res.status);
}

/** Read a classification out of a job wherever the backend put it. */
export function classificationOf(job: Job): ClassifyResult | null {
  const r = job.result as Partial<ClassifyResult> | null | undefined;
  return r && r.probabilities && r.predicted_class ? (r as ClassifyResult) : null;
}
