import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { act, fireEvent, screen, waitFor } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import { useJobs } from '../state/jobs';
import { json } from '../test/helpers';
import { renderWithServices } from '../test/render';
import { taskFor, UploadPanel } from './UploadPanel';

beforeEach(() => act(() => useJobs.getState().reset()));

describe('UploadPanel', () => {
  it('infers the task from the file type', () => {
    expect(taskFor('brain.JPG')).toBe('classify');
    expect(taskFor('x.png')).toBe('classify');
    expect(taskFor('ct.nii.gz')).toBe('totalseg');
    expect(taskFor('series.zip')).toBe('totalseg');
  });

  it('uploads a volume, starts segmentation with the chosen options and opens the job', async () => {
    // An empty part list keeps storage out of this test (uploadParts has its own tests in api/upload.test.ts).
    const { calls } = renderWithServices(<UploadPanel />, (url, init) => {
      if (url.endsWith('/upload')) return json({ jobId: 'j9', upload: { multipart: { uploadId: 'u', partSize: 1 << 20, parts: [] } } });
      if (url.endsWith('/complete')) return json({ jobId: 'j9', status: 'uploaded', input: { filename: 'ct.nii.gz' } });
      if (url.endsWith('/process/totalseg')) return json({ jobId: 'j9', status: 'queued', task: 'totalseg', body: JSON.parse(init.body as string) }, 202);
      return json({ ok: false, error: { code: 'x', message: url } }, 404);
    });
    const input = screen.getByTestId('file-input');
    fireEvent.change(input, { target: { files: [new File(['abc'], 'ct.nii.gz')] } });
    expect(screen.getByTestId('selected-file')).toHaveTextContent('ct.nii.gz · 3 B');
    expect(screen.getByLabelText('Task')).toHaveValue('totalseg');
    fireEvent.click(screen.getByRole('button', { name: 'Upload and start' }));
    await waitFor(() => expect(useJobs.getState().selectedId).toBe('j9'));
    const process = calls.find((c) => c.url.endsWith('/process/totalseg'))!;
    // no GET /capabilities answer here: the approximate engine, so no fast mode is sent
    expect(JSON.parse(process.init.body as string)).toEqual({ jobId: 'j9', device: 'gpu', fast: false, reduction_percent: null, stl: false, roi_subset: null });
    expect(useJobs.getState().jobs[0]).toMatchObject({ jobId: 'j9', status: 'queued' });
  });

  it('shows the API error when the upload is refused', async () => {
    renderWithServices(<UploadPanel />, () => json({ ok: false, error: { code: 'unsupported_extension', message: 'unsupported file type' } }, 422));
    fireEvent.change(screen.getByTestId('file-input'), { target: { files: [new File(['x'], 'notes.txt')] } });
    fireEvent.click(screen.getByRole('button', { name: 'Upload and start' }));
    await waitFor(() => expect(screen.getByRole('alert')).toHaveTextContent('unsupported file type'));
  });

  it('chooses classification for an image', () => {
    renderWithServices(<UploadPanel />, () => json({}));
    fireEvent.change(screen.getByTestId('file-input'), { target: { files: [new File(['x'], 'scan.jpg')] } });
    expect(screen.getByLabelText('Task')).toHaveValue('classify');
    expect(screen.queryByLabelText(/Fast mode/)).not.toBeInTheDocument();
  });
  it('de-identifies a DICOM folder by default: neutral name, non-DICOM files left out, said so', async () => {
    const dicom = readFileSync(resolve(__dirname, '../../../../shared/data/ct/pydicom_CT_small.dcm'));
    const entry = (name: string, body: BlobPart) => Object.assign(new File([body], name), { webkitRelativePath: `Doe_John/${name}` });
    const { calls } = renderWithServices(<UploadPanel />, (url) => {
      if (url.endsWith('/upload')) return json({ jobId: 'j7', upload: { multipart: { uploadId: 'u', partSize: 1 << 20, parts: [] } } });
      if (url.endsWith('/complete')) return json({ jobId: 'j7', status: 'uploaded', input: { filename: 'dicom-series.zip' } });
      if (url.endsWith('/process/totalseg')) return json({ jobId: 'j7', status: 'queued', task: 'totalseg' }, 202);
      return json({ ok: false, error: { code: 'x', message: url } }, 404);
    });
    fireEvent.change(screen.getByLabelText('DICOM folder'), { target: { files: [entry('IM1.dcm', dicom), entry('notes.txt', 'John Doe')] } });
    expect(screen.getByLabelText('De-identify before upload')).toBeChecked();
    fireEvent.click(screen.getByRole('button', { name: 'Upload and start' }));
    await waitFor(() => expect(useJobs.getState().selectedId).toBe('j7'));
    const create = calls.find((c) => c.url.endsWith('/upload'))!;
    expect(JSON.parse(create.init.body as string).filename).toBe('dicom-series.zip');
    expect(screen.getByTestId('upload-notice')).toHaveTextContent('1 file(s) that are not DICOM were left out');
  });
});
