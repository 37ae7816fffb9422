// Each job has its own address, /jobs/{jobId}: the selected job and the URL follow each other,
// so reload, back/forward and shared links work.
import { useEffect, useState } from 'react';
import { ApiError } from '../api/client';
import { useJobs } from './jobs';
import { useLayout } from './layout';
import { useServices } from './services';

const JOB_PATH = /^\/jobs\/([A-Za-z0-9_-]+)\/?$/;

export function jobIdFromPath(pathname: string): string | null {
  return JOB_PATH.exec(pathname)?.[1] ?? null;
}

export function pathOfJob(jobId: string | null): string {
  return jobId ? `/jobs/${encodeURIComponent(jobId)}` : '/';
}

/** Keeps the address bar and the selected job in step; returns why a linked job cannot be shown. */
export function useJobRoute(): string | null {
  const { api } = useServices();
  const [missing, setMissing] = useState<string | null>(null);

  useEffect(() => {
    function fromLocation() {
      const id = jobIdFromPath(window.location.pathname);
      useJobs.getState().select(id);
      setMissing(null);
      if (!id) return;
      useLayout.getState().setTab('viewer');
      // A linked job may be older than the first page of the list: fetch it on its own.
      if (!useJobs.getState().jobs.some((j) => j.jobId === id))
        api.getJob(id).then(
          (job) => useJobs.getState().upsert(job),
          (e: unknown) => setMissing(e instanceof ApiError && e.status === 404 ? 'This job does not exist, or it belongs to another account.' : `The job could not be loaded: ${(e as Error).message}`),
        );
    }
    fromLocation();
    window.addEventListener('popstate', fromLocation);
    const stop = useJobs.subscribe((s, prev) => {
      if (s.selectedId === prev.selectedId) return;
      const path = pathOfJob(s.selectedId);
      if (window.location.pathname !== path) window.history.pushState(null, '', path);
      if (s.selectedId) useLayout.getState().setTab('viewer'); // on a phone, show what was picked
      setMissing(null);
    });
    return () => {
      window.removeEventListener('popstate', fromLocation);
      stop();
    };
  }, [api]);

  return missing;
}
