// The selected job: its result when completed, else its status; delete with confirmation.
import { useEffect, useRef, useState } from 'react';
import type { Job } from '../api/types';
import { ClassificationView } from '../classify/ClassificationView';
import { asSentence, formatBytes, formatTime } from '../lib/format';
import { progressOf, stageLabel } from '../lib/jobStage';
import { sceneReady, useJobs } from '../state/jobs';
import { closeDialog, openDialog } from '../ui/dialog';
import { useServices } from '../state/services';
import { preloadViewer, SegmentationView } from '../viewer/SegmentationView';
import { submissionOf, submitJob } from '../upload/submit';
import { taskLabel } from './JobsList';

export function JobView({ job }: { job: Job }) {
  return (
    <div className="flex h-full min-h-0 flex-col gap-3">
      <JobHeader job={job} />
      <div className="min-h-0 flex-1">
        {job.status === 'completed' && job.task === 'classify' && <ClassificationView job={job} />}
        {(job.status === 'completed' || sceneReady(job)) && job.task !== 'classify' && <SegmentationView key={job.jobId} job={job} />}
        {job.status !== 'completed' && !sceneReady(job) && <JobStatusCard job={job} />}
      </div>
    </div>
  );
}

function JobHeader({ job }: { job: Job }) {
  const { api } = useServices();
  const remove = useJobs((s) => s.remove);
  const dialog = useRef<HTMLDialogElement>(null);
  const [error, setError] = useState<string | null>(null);
  const deletable = !['queued', 'processing'].includes(job.status);

  async function confirmDelete() {
    try {
      await api.deleteJob(job.jobId);
      closeDialog(dialog.current);
      remove(job.jobId);
    } catch (e) {
      setError((e as Error).message);
    }
  }

  return (
    <header className="flex flex-wrap items-center justify-between gap-x-3 gap-y-1 border-b border-slate-800 pb-2">
      <div className="min-w-0 flex-1">
        <h1 className="truncate text-base font-semibold text-slate-50">{job.input?.filename ?? job.jobId}</h1>
        <p className="break-words text-xs text-slate-400">
          {taskLabel(job)} · {formatBytes(job.input?.size)} · {formatTime(job.createdAt)} · <span data-testid="job-status">{stageLabel(job)}</span>
        </p>
      </div>
      <button type="button" className="btn-danger" disabled={!deletable} title={deletable ? 'Delete this job and its files' : 'A running job cannot be deleted'} onClick={() => (setError(null), openDialog(dialog.current))}>
        Delete job
      </button>
      <dialog ref={dialog} aria-labelledby="delete-title" className="m-auto rounded border border-slate-700 bg-slate-900 p-4 text-slate-200 backdrop:bg-black/60">
        <h2 id="delete-title" className="font-semibold">
          Delete this job?
        </h2>
        <p className="mt-1 text-sm text-slate-400">The upload and every result file are removed. This cannot be undone.</p>
        {error && (
          <p role="alert" className="mt-2 text-sm text-red-400">
            {error}
          </p>
        )}
        <div className="mt-4 flex justify-end gap-2">
          <button type="button" className="btn-secondary" onClick={() => closeDialog(dialog.current)} autoFocus>
            Cancel
          </button>
          <button type="button" className="btn-danger" onClick={confirmDelete}>
            Delete
          </button>
        </div>
      </dialog>
    </header>
  );
}

const STEPS = ['Queued', 'Waking GPU', 'Segmenting', 'Meshing', 'Packaging'];

function JobStatusCard({ job }: { job: Job }) {
  const pct = progressOf(job);
  const label = stageLabel(job);
  const segmenting = job.task !== 'classify' && job.status !== 'failed';
  useEffect(() => {
    if (segmenting) preloadViewer();
  }, [segmenting]);
  if (job.status === 'failed') return <FailedCard job={job} />;
  return (
    <div className="max-w-xl space-y-3 rounded border border-slate-800 p-4 text-sm" aria-live="polite">
      <p className="text-slate-200">{label}…</p>
      {job.task !== 'classify' && (
        <ol className="flex gap-2 text-[11px] text-slate-500" aria-label="Processing steps">
          {STEPS.map((s) => (
            <li key={s} className={label.startsWith(s) ? 'font-semibold text-sky-300' : ''}>
              {s}
            </li>
          ))}
        </ol>
      )}
      <div className="h-2 rounded bg-slate-800" role="progressbar" aria-label="Job progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct === null ? undefined : Math.round(pct)}>
        <div className={`h-2 rounded bg-sky-500 ${pct === null ? 'w-1/4 animate-pulse' : ''}`} style={pct === null ? undefined : { width: `${pct}%` }} />
      </div>
      {label.startsWith('Waking') && <p className="text-xs text-slate-400">The GPU endpoint scales to zero when idle; the first job after a pause waits for an instance to start.</p>}
    </div>
  );
}

/** A failed job cannot be queued again: Retry uploads the same file with the same options as a new job. */
function FailedCard({ job }: { job: Job }) {
  const { api } = useServices();
  const submission = submissionOf(job.jobId);
  const [state, setState] = useState<{ busy: boolean; error: string | null }>({ busy: false, error: null });

  async function retry() {
    if (!submission) return;
    setState({ busy: true, error: null });
    try {
      await submitJob(api, submission);
    } catch (e) {
      setState({ busy: false, error: asSentence((e as Error).message) });
    }
  }

  return (
    <div role="alert" className="max-w-xl rounded border border-red-800 bg-red-950/40 p-4 text-sm">
      <p className="font-semibold text-red-300">The {taskLabel(job).toLowerCase()} failed.</p>
      <p className="mt-1 text-red-200">{asSentence(job.error?.message ?? 'No reason was recorded.')}</p>
      {job.error?.code && <p className="mt-1 text-xs text-red-400">Code: {job.error.code}</p>}
      <div className="mt-3 flex items-center gap-3">
        <button type="button" className="btn-primary" onClick={retry} disabled={!submission || state.busy}>
          {state.busy ? 'Retrying…' : 'Retry'}
        </button>
        {!submission && <span className="text-xs text-red-200">To retry, choose the file again under New job: it was uploaded in another session.</span>}
      </div>
      {state.error && <p className="mt-2 text-xs text-red-300">{state.error}</p>}
    </div>
  );
}
