import type { Job } from '../api/types';

const STAGES: Record<string, string> = {
  waking: 'Waking GPU',
  // the backend says so while the endpoint is scaled to zero
  waking_gpu: 'Waking GPU (can take a few minutes)',
  loading: 'Loading scan',
  segmenting: 'Segmenting',
  meshing: 'Meshing',
  exporting: 'Exporting',
  packaging: 'Packaging',
  classifying: 'Classifying',
  done: 'Finishing',
};

/** A queued job on a scaled-to-zero endpoint waits for an instance: say so after this long. */
export const WAKING_AFTER_MS = 20_000;

export function stageLabel(job: Job, now = Date.now()): string {
  switch (job.status) {
    case 'uploading':
      return 'Uploading';
    case 'uploaded':
      return 'Uploaded';
    case 'queued': {
      if (job.stage && STAGES[job.stage]) return STAGES[job.stage];
      if (job.stage === 'queued') return 'Queued'; // the backend saw a running instance
      // An older backend says nothing about the endpoint: guess from the time waited.
      const since = Date.parse(job.updatedAt ?? job.createdAt ?? '');
      return Number.isFinite(since) && now - since > WAKING_AFTER_MS ? 'Waking GPU (can take a few minutes)' : 'Queued';
    }
    case 'processing':
      return (job.stage && STAGES[job.stage]) || 'Processing';
    case 'completed':
      return 'Completed';
    case 'failed':
      return 'Failed';
    default:
      return job.status;
  }
}

export function progressOf(job: Job): number | null {
  if (job.status === 'completed') return 100;
  if (job.status === 'processing' || job.status === 'queued') return typeof job.progress === 'number' ? Math.max(0, Math.min(100, job.progress)) : null;
  return null;
}
