import type { Job } from '../api/types';

/** The job's file name without its extensions, for naming what the user saves. */
export function jobStem(job: Job): string {
  const name = job.input?.filename ?? job.jobId;
  return name.replace(/\.(nii\.gz|nii|gz|zip|dcm|jpe?g|png)$/i, '') || job.jobId;
}
