import { act, fireEvent, screen, waitFor } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Job } from '../api/types';
import { pollDelay, useJobs } from '../state/jobs';
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
    expect(pollDelay(jobs)).toBe(500);
    expect(pollDelay(jobs, 15_000)).toBe(500);
    expect(pollDelay(jobs, 60_000)).toBe(2000);
    expect(pollDelay(jobs, 30 * 60_000)).toBe(5000);
    expect(pollDelay([jobs[1]], 60_000)).toBe(20000);
    // a job writing its results: its end is near
    expect(pollDelay([{ ...jobs[0], stage: 'packaging', progress: 99 }], 30 * 60_000)).toBe(500);
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
