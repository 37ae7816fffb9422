import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Capabilities } from '../api/types';
import { useCapabilities } from '../state/capabilities';
import { useJobs } from '../state/jobs';
import { json } from '../test/helpers';
import { renderWithServices } from '../test/render';
import { effectiveOptions, runnableTasks } from './EngineOptions';
import { DEFAULT_OPTIONS, UploadPanel } from './UploadPanel';

const installed: Capabilities = {
  known: true,
  publishedAt: '2026-11-29T00:00:00+00:00',
  engineVersion: '0.4.0',
  default: 'totalsegmentator',
  totalsegmentator: {
    installed: true,
    usable: true,
    version: '2.18.0',
    tasks: [
      { name: 'total', weights: true, fastWeights: true, structures: ['kidney_left', 'liver', 'spleen'] },
      { name: 'total_mr', weights: false, fastWeights: true, structures: ['liver', 'prostate'] },
    ],
  },
};
const notInstalled: Capabilities = { ...installed, default: 'threshold', totalsegmentator: { installed: true, usable: false, version: '2.18.0', tasks: [{ ...installed.totalsegmentator.tasks[0], weights: false, fastWeights: false }] } };

beforeEach(() =>
  act(() => {
    useJobs.getState().reset();
    useCapabilities.getState().reset();
  }),
);

function renderPanel(capabilities: Capabilities | null) {
  return renderWithServices(<UploadPanel />, (url, init) => {
    if (url.endsWith('/capabilities')) return capabilities ? json({ ok: true, ...capabilities }) : json({ ok: false, error: { code: 'route_not_found', message: 'no' } }, 404);
    if (url.endsWith('/upload')) return json({ jobId: 'j1', upload: { multipart: { uploadId: 'u', partSize: 1 << 20, parts: [] } } });
    if (url.endsWith('/complete')) return json({ jobId: 'j1', status: 'uploaded', input: { filename: 'ct.nii.gz' } });
    if (url.endsWith('/process/totalseg')) return json({ jobId: 'j1', status: 'queued', task: 'totalseg', body: JSON.parse(init.body as string) }, 202);
    return json({ ok: false, error: { code: 'x', message: url } }, 404);
  });
}

async function chooseVolume() {
  fireEvent.change(screen.getByTestId('file-input'), { target: { files: [new File(['abc'], 'ct.nii.gz')] } });
}

describe('effectiveOptions', () => {
  it('sends no task, fast mode or subset without TotalSegmentator', () => {
    expect(effectiveOptions({ ...DEFAULT_OPTIONS, fast: true, totalseg_task: 'total_mr', roi_subset: ['liver'] }, notInstalled)).toEqual({ ...DEFAULT_OPTIONS, fast: false, roi_subset: null });
    expect(runnableTasks(null)).toEqual([]);
  });

  it('narrows the choice to the installed models', () => {
    // total_mr has only its fast model: fast is forced on; a structure total_mr lacks is dropped
    expect(effectiveOptions({ ...DEFAULT_OPTIONS, totalseg_task: 'total_mr', roi_subset: ['liver', 'spleen'] }, installed)).toMatchObject({ totalseg_task: 'total_mr', fast: true, roi_subset: ['liver'] });
    expect(effectiveOptions(DEFAULT_OPTIONS, installed)).toMatchObject({ totalseg_task: 'total', fast: false, roi_subset: null });
  });
});

describe('the upload form and the engine capabilities', () => {
  it('offers TotalSegmentator tasks, fast mode and a structure subset when the engine has them', async () => {
    const { calls } = renderPanel(installed);
    await chooseVolume();
    const picker = await screen.findByLabelText('TotalSegmentator task');
    expect([...(picker as HTMLSelectElement).options].map((o) => o.value)).toEqual(['total', 'total_mr']);
    expect(screen.getByText('total (CT; MR → total_mr)')).toBeInTheDocument();
    expect(screen.getByTestId('reduction-help')).toHaveTextContent('within ½ voxel');
    fireEvent.click(screen.getByLabelText(/Fast mode/));
    const subset = screen.getByTestId('structure-subset');
    fireEvent.change(within(subset).getByLabelText('Filter structures'), { target: { value: 'liv' } });
    expect(within(subset).queryByLabelText('Segment spleen')).toBeNull();
    fireEvent.click(within(subset).getByLabelText('Segment liver'));
    expect(subset).toHaveTextContent('Structures: 1 of 3');
    fireEvent.click(screen.getByRole('button', { name: 'Upload and start' }));
    await waitFor(() => expect(useJobs.getState().selectedId).toBe('j1'));
    const process = calls.find((c) => c.url.endsWith('/process/totalseg'))!;
    expect(JSON.parse(process.init.body as string)).toEqual({ jobId: 'j1', totalseg_task: 'total', device: 'gpu', fast: true, reduction_percent: null, stl: false, roi_subset: ['liver'] });
  });

  it('says in one line that the approximate engine runs when TotalSegmentator is not installed', async () => {
    renderPanel(notInstalled);
    await chooseVolume();
    expect(await screen.findByTestId('engine-line')).toHaveTextContent('Approximate engine: TotalSegmentator is not installed on this server');
    expect(screen.queryByLabelText('TotalSegmentator task')).toBeNull();
    expect(screen.queryByLabelText(/Fast mode/)).toBeNull();
  });

  it('assumes the approximate engine when the API cannot say', async () => {
    renderPanel(null);
    await chooseVolume();
    await waitFor(() => expect(screen.getByTestId('engine-line')).toHaveTextContent('Approximate engine assumed'));
  });
});
