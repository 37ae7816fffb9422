import { act, fireEvent, screen, waitFor } from '@testing-library/react';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { ApiClient } from '../api/client';
import type { Job } from '../api/types';
import { LIST_WHILE_WATCHING_MS, pollDelay, useJobs } from '../state/jobs';
import { json } from '../test/helpers';
import { renderWithServices } from '../test/render';
import { JobsList } from './JobsList';
import { JobView } from './JobView';

const jobs: Job[] = [
  { jobId: 'a', status: 'processing', stage: 'meshing', progress: 72, task: 'totalseg', input: { filename: 'ct.nii.gz' }, createdAt: '2026-01-02T00:00:00Z' },
  { jobId: 'b', status: 'failed', task: 'totalseg', input: { filename: 'bad.zip' }, error: { code: 'no_dicom', message: 'The ZIP holds no DICOM series.' }, createdAt: '2026-01-01T00:00:00Z' },
];

beforeEach(() => act(() => useJobs.getState().reset()));

describe('JobsList', () => {
  it('lists jobs newest first with stage, progress and readable errors, and paginates', async () => {
    const { calls } = renderWithServices(<JobsList />, (url) =>
      url.includes('cursor=') ? json({ jobs: [{ jobId: 'c', status: 'completed', input: { filename: 'old.nii' }, createdAt: '2025-12-01T00:00:00Z' }], nextCursor: null }) : json({ jobs, nextCursor: 'next-1' }),
    );
    await waitFor(() => expect(screen.getAllByTestId('job-row')).toHaveLength(2));
    expect(screen.getAllByTestId('job-row')[0]).toHaveTextContent('ct.nii.gz');
    expect(screen.getByRole('progressbar', { name: 'Meshing progress' })).toHaveAttribute('aria-valuenow', '72');
    expect(screen.getByText('The ZIP holds no DICOM series.')).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'Load older jobs' }));
    await waitFor(() => expect(screen.getAllByTestId('job-row')).toHaveLength(3));
    expect(calls.at(-1)!.url).toContain('cursor=next-1');
    expect(screen.queryByRole('button', { name: 'Load older jobs' })).not.toBeInTheDocument();
  });

  it('polls quickly only while a job is in flight, backing off for long jobs', () => {
    const segmenting = [{ ...jobs[0], stage: 'segmenting', progress: 30 }, jobs[1]];
    expect(pollDelay(segmenting)).toBe(500);
    expect(pollDelay(segmenting, 15_000)).toBe(500);
    expect(pollDelay(jobs, 15_000)).toBe(250); // meshing, in flight for seconds
    expect(pollDelay(segmenting, 60_000)).toBe(2000);
    expect(pollDelay(jobs, 60_000)).toBe(2000);
    expect(pollDelay(jobs, 30 * 60_000)).toBe(5000);
    expect(pollDelay([jobs[1]], 60_000)).toBe(20000);
    // a job writing its results: its end is near
    expect(pollDelay([{ ...jobs[0], stage: 'packaging', progress: 99 }], 30 * 60_000)).toBe(250);
    expect(pollDelay([{ ...jobs[0], stage: 'meshing', progress: 84 }], 30 * 60_000)).toBe(5000);
    // a short job meshing: its 3D scene is a second or two away
    expect(pollDelay([{ ...jobs[0], stage: 'meshing', progress: 60 }], 5_000)).toBe(250);
    expect(pollDelay([{ ...jobs[0], stage: 'segmenting', progress: 40 }], 5_000)).toBe(500);
  });

  it('selects a job on click', async () => {
    renderWithServices(<JobsList />, () => json({ jobs, nextCursor: null }));
    await waitFor(() => screen.getAllByTestId('job-row'));
    fireEvent.click(screen.getAllByTestId('job-row')[1]);
    expect(useJobs.getState().selectedId).toBe('b');
  });
});

describe('JobView', () => {
  it('deletes a finished job after confirmation', async () => {
    act(() => useJobs.getState().upsert(jobs[1]));
    const { calls } = renderWithServices(<JobView job={jobs[1]} />, () => new Response(null, { status: 204 }));
    expect(screen.getByRole('alert')).toHaveTextContent('The ZIP holds no DICOM series.');
    fireEvent.click(screen.getByRole('button', { name: 'Delete job' }));
    fireEvent.click(screen.getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(useJobs.getState().jobs).toHaveLength(0));
    expect(calls[0]).toMatchObject({ url: 'http://api/jobs/b', init: { method: 'DELETE' } });
  });

  it('does not offer delete for a running job and shows its stage', () => {
    renderWithServices(<JobView job={jobs[0]} />, () => json({}));
    expect(screen.getByRole('button', { name: 'Delete job' })).toBeDisabled();
    expect(screen.getByRole('progressbar', { name: 'Job progress' })).toHaveAttribute('aria-valuenow', '72');
  });
});

describe('a running job whose 3D scene is published early', () => {
  const running: Job = { jobId: 'r', status: 'queued', task: 'totalseg', input: { filename: 'ct.nii.gz' }, createdAt: '2026-01-03T00:00:00Z', files: [] };
  const early = [{ name: 'scene.glb', size: 4, contentType: 'model/gltf-binary' }, { name: 'report.json', size: 2, contentType: 'application/json' }];

  it('fetches the selected running job on its own for its live stage and published files, and keeps them', async () => {
    let detail: Job = { ...running, status: 'processing', stage: 'exporting', progress: 80, files: early };
    const { calls } = renderWithServices(<JobsList />, (url) => (url.endsWith('/jobs/r') ? json({ ok: true, job: detail }) : json({ jobs: [running], nextCursor: null })));
    await waitFor(() => screen.getAllByTestId('job-row'));
    act(() => useJobs.getState().select('r'));
    await waitFor(() => expect(useJobs.getState().jobs[0].files).toEqual(early), { timeout: 3000 });
    expect(useJobs.getState().jobs[0]).toMatchObject({ status: 'processing', stage: 'exporting' });
    expect(calls.some((c) => c.url.endsWith('/jobs/r'))).toBe(true);
    // a later view without the files (a progress file not readable for a moment) keeps them
    detail = { ...detail, stage: 'packaging', progress: 99, files: [] };
    await waitFor(() => expect(useJobs.getState().jobs[0].stage).toBe('packaging'), { timeout: 3000 });
    expect(useJobs.getState().jobs[0].files).toEqual(early);
  });

  it('opens the 3D view while the job finishes, with the downloads to follow', async () => {
    const job: Job = { ...running, status: 'processing', stage: 'exporting', progress: 80, files: early };
    const { calls } = renderWithServices(<JobView job={job} />, () => new Response(null, { status: 404 }));
    expect(screen.queryByRole('progressbar', { name: 'Job progress' })).not.toBeInTheDocument();
    expect(await screen.findByTestId('finishing')).toHaveTextContent('downloads and slices follow');
    await waitFor(() => expect(calls.some((c) => c.url.includes('/files/r/scene.glb'))).toBe(true));
  });

  it('shows the status card, not the viewer, until the scene is published', () => {
    const withoutScene: Job = { ...running, status: 'processing', stage: 'meshing', progress: 50, files: [early[1]] };
    renderWithServices(<JobView job={withoutScene} />, () => json({}));
    expect(screen.getByRole('progressbar', { name: 'Job progress' })).toBeInTheDocument();
    expect(screen.queryByTestId('finishing')).not.toBeInTheDocument();
  });
});

describe('polling while a job is watched', () => {
  it('fetches the watched job each poll and the whole list only every few seconds, and at once when the job ends', async () => {
    const running: Job = { jobId: 'w', status: 'processing', stage: 'meshing', progress: 62, task: 'totalseg', input: { filename: 'ct.nii.gz' }, createdAt: '2026-01-04T00:00:00Z' };
    let detail: Job = running;
    let listed: Job = running;
    const calls = { list: 0, job: 0 };
    const api = {
      listJobs: async () => { calls.list += 1; return { jobs: [listed, jobs[1]], nextCursor: null }; },
      getJob: async () => { calls.job += 1; return detail; },
    } as unknown as ApiClient;
    let now = 1_000_000;
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => now);
    try {
      await useJobs.getState().refresh(api); // nothing selected yet: the list
      act(() => useJobs.getState().select('w'));
      for (const stage of ['meshing', 'exporting', 'exporting']) {
        now += 300;
        detail = { ...detail, stage, progress: detail.progress! + 10 };
        await useJobs.getState().refresh(api);
        expect(useJobs.getState().jobs.find((j) => j.jobId === 'w')).toMatchObject({ stage, progress: detail.progress });
      }
      expect(calls).toEqual({ list: 1, job: 3 });
      now += LIST_WHILE_WATCHING_MS; // a while since the list: the list too
      await useJobs.getState().refresh(api);
      expect(calls).toEqual({ list: 2, job: 4 });
      // the job ends between two list fetches: the list is fetched at once, as stored
      now += 300;
      detail = { ...running, status: 'completed', stage: 'done', progress: 100 };
      listed = detail;
      await useJobs.getState().refresh(api);
      expect(calls.list).toBe(3);
      expect(useJobs.getState().jobs.find((j) => j.jobId === 'w')).toMatchObject({ status: 'completed' });
      expect(useJobs.getState().jobs).toHaveLength(2);
    } finally {
      clock.mockRestore();
    }
  });
});
