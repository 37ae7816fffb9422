// Upload a file and start its task: used by the upload panel and by Retry on a failed job.
import type { ApiClient } from '../api/client';
import type { Job, TotalsegOptions } from '../api/types';
import { uploadFile } from '../api/upload';
import { useJobs } from '../state/jobs';

export type Task = 'totalseg' | 'classify';

export interface Submission {
  file: File;
  task: Task;
  options: TotalsegOptions;
}

/** What each job of this tab was made from, so a failed one can be sent again (a failed job cannot be re-queued). */
const submissions = new Map<string, Submission>();

export function submissionOf(jobId: string): Submission | undefined {
  return submissions.get(jobId);
}

export async function submitJob(
  api: ApiClient,
  sub: Submission,
  { signal, onProgress, onStarting }: { signal?: AbortSignal; onProgress?: (loaded: number, total: number) => void; onStarting?: () => void } = {},
): Promise<string> {
  const { upsert, select, rememberImage } = useJobs.getState();
  const { jobId, job } = await uploadFile(api, sub.file, { signal, onProgress });
  submissions.set(jobId, sub);
  upsert(job);
  if (sub.task === 'classify') rememberImage(jobId, URL.createObjectURL(sub.file));
  onStarting?.();
  const started: Job = sub.task === 'classify' ? await api.startClassify(jobId) : await api.startTotalseg(jobId, sub.options);
  upsert({ ...job, ...started, jobId });
  select(jobId);
  return jobId;
}
