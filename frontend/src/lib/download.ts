import type { ApiClient } from '../api/client';

/** Save a result file: a plain link to its presigned URL, so big files stream to disk. */
export async function downloadResult(api: ApiClient, jobId: string, name: string): Promise<void> {
  const url = await api.fileUrl(jobId, name);
  const a = document.createElement('a');
  a.href = url;
  a.download = name.split('/').pop() ?? name; // honoured same-origin; S3 sets Content-Disposition otherwise
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
}
