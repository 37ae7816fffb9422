import { zipSync } from 'fflate';
import type { ApiClient } from '../api/client';

/** Files up to this size are fetched and saved under the job's name; bigger ones stream to disk under the server's name. */
export const RENAME_LIMIT_BYTES = 512 * 1024 * 1024;

/** A result file's name on the user's disk: the job's name first (`example_ct-result.zip`). */
export function savedName(stem: string, name: string): string {
  const base = name.split('/').pop() ?? name;
  if (base === 'scene.glb') return `${stem}.glb`;
  return `${stem}-${base}`;
}

function save(href: string, name: string) {
  const a = document.createElement('a');
  a.href = href;
  a.download = name; // honoured for blob: URLs and same-origin links; S3 sets Content-Disposition otherwise
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
}

function saveBlob(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob);
  save(url, name);
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

/** Save a result file named after the job; a very big one as a plain link to its presigned URL. */
export async function downloadResult(api: ApiClient, jobId: string, name: string, stem: string, size?: number): Promise<void> {
  if (typeof size === 'number' && size > RENAME_LIMIT_BYTES) return save(await api.fileUrl(jobId, name), name.split('/').pop() ?? name);
  saveBlob(await api.fileBlob(jobId, name), savedName(stem, name));
}

/** Several result files as one ZIP (OBJ + MTL: the OBJ names its MTL, so both keep their names inside). */
export async function downloadAsZip(api: ApiClient, jobId: string, names: string[], zipName: string): Promise<void> {
  const entries = await Promise.all(names.map(async (n) => [n.split('/').pop() ?? n, new Uint8Array(await (await api.fileBlob(jobId, n)).arrayBuffer())] as const));
  const zipped = zipSync(Object.fromEntries(entries), { level: 6 });
  saveBlob(new Blob([zipped as Uint8Array<ArrayBuffer>], { type: 'application/zip' }), zipName);
}
