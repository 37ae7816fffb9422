// The user's jobs, newest first, with live status; polling speeds up while a job is moving.
import { useEffect, useRef, useState } from 'react';
import type { Job } from '../api/types';
import { asSentence, formatTime } from '../lib/format';
import { progressOf, stageLabel } from '../lib/jobStage';
import { anyActive, pollDelay, useJobs } from '../state/jobs';
import { useLayout } from '../state/layout';
import { useServices } from '../state/services';

const STATUS_STYLE: Record<string, string> = {
  completed: 'text-emerald-400',
  failed: 'text-red-400',
  processing: 'text-sky-300',
  queued: 'text-sky-300',
  uploading: 'text-slate-300',
  uploaded: 'text-slate-300',
};

export function useJobPolling() {
  const { api } = useServices();
  const jobs = useJobs((s) => s.jobs);
  const refresh = useJobs((s) => s.refresh);
  const [tick, setTick] = useState(0);
  // since when some job has been in flight (the backoff's clock), null while all are settled
  const activeSince = useRef<number | null>(null);
  useEffect(() => {
    void refresh(api);
  }, [api, refresh]);
  useEffect(() => {
    if (!anyActive(jobs)) activeSince.current = null;
    else activeSince.current ??= Date.now();
    const activeFor = activeSince.current === null ? 0 : Date.now() - activeSince.current;
    const t = setTimeout(() => {
      if (document.visibilityState !== 'hidden') void refresh(api).finally(() => setTick((n) => n + 1));
      else setTick((n) => n + 1);
    }, pollDelay(jobs, activeFor));
    return () => clearTimeout(t);
  }, [api, refresh, jobs, tick]);
}

export function JobsList() {
  const { api } = useServices();
  useJobPolling();
  const jobs = useJobs((s) => s.jobs);
  const error = useJobs((s) => s.error);
  const nextCursor = useJobs((s) => s.nextCursor);
  const loading = useJobs((s) => s.loading);
  const selectedId = useJobs((s) => s.selectedId);
  const { select, loadMore } = useJobs.getState();
  const setTab = useLayout((s) => s.setTab); // on a phone, a picked job's viewer comes up

  return (
    <section aria-labelledby="jobs-heading" className="flex min-h-0 flex-1 flex-col gap-2">
      <h2 id="jobs-heading" className="text-sm font-semibold text-slate-100">
        Jobs
      </h2>
      {error && (
        <p role="alert" className="text-xs text-red-400">
          Jobs could not be refreshed: {error}
        </p>
      )}
      {jobs.length === 0 && !loading && <p className="text-xs text-slate-400">No jobs yet. Upload a scan to start.</p>}
      <ul className="min-h-0 flex-1 space-y-1 overflow-y-auto" aria-label="Your jobs">
        {jobs.map((job) => (
          <li key={job.jobId}>
            <JobRow job={job} selected={job.jobId === selectedId} onSelect={() => (select(job.jobId), setTab('viewer'))} />
          </li>
        ))}
      </ul>
      {nextCursor && (
        <button type="button" className="btn-secondary" onClick={() => loadMore(api)} disabled={loading}>
          {loading ? 'Loading…' : 'Load older jobs'}
        </button>
      )}
    </section>
  );
}

/** What the job does, in words: a job that failed before it started has no task, only a kind. */
export function taskLabel(job: Job): string {
  return job.task === 'classify' || (!job.task && job.kind === 'image') ? 'Classification' : 'Segmentation';
}

export function JobRow({ job, selected, onSelect }: { job: Job; selected: boolean; onSelect: () => void }) {
  const pct = progressOf(job);
  const label = stageLabel(job);
  return (
    <button
      type="button"
      onClick={onSelect}
      aria-current={selected || undefined}
      className={`w-full rounded px-2 py-1.5 text-left text-xs ${selected ? 'bg-slate-800 ring-1 ring-sky-600' : 'hover:bg-slate-800/60'}`}
      data-testid="job-row"
      data-status={job.status}
    >
      <div className="flex items-center justify-between gap-2">
        <span className="truncate font-medium text-slate-100">{job.input?.filename ?? job.jobId}</span>
        <span className={`shrink-0 ${STATUS_STYLE[job.status] ?? ''}`}>{label}</span>
      </div>
      <div className="flex justify-between text-[11px] text-slate-500">
        <span>{taskLabel(job)}</span>
        <span>{formatTime(job.createdAt)}</span>
      </div>
      {pct !== null && job.status !== 'completed' && (
        <div className="mt-1 h-1 rounded bg-slate-800" role="progressbar" aria-label={`${label} progress`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(pct)}>
          <div className="h-1 rounded bg-sky-500" style={{ width: `${pct}%` }} />
        </div>
      )}
      {job.status === 'failed' && job.error && <p className="mt-0.5 text-[11px] text-red-400">{asSentence(job.error.message)}</p>}
    </button>
  );
}
