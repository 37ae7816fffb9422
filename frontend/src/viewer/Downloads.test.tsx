import { describe, expect, it } from 'vitest';
import type { Job } from '../api/types';
import { downloadItems } from './Downloads';

const job = (names: string[]) => ({ jobId: 'j', files: names.map((name) => ({ name, size: 1, contentType: 'x' })) }) as unknown as Job;
const BASE = ['result.zip', 'scene.glb', 'scene.obj', 'scene.mtl', 'report.json', 'segmentation.nii.gz'];

describe('downloadItems', () => {
  it('offers DICOM SEG and RTSTRUCT, each with what it is for, when the job has them', () => {
    const items = downloadItems(job([...BASE, 'seg.dcm', 'rtstruct.dcm']), null);
    const seg = items.find((i) => i.files[0] === 'seg.dcm');
    const rt = items.find((i) => i.files[0] === 'rtstruct.dcm');
    expect(seg?.hint).toMatch(/PACS/);
    expect(rt?.hint).toMatch(/radiotherapy/);
  });

  it('offers the CSV report only when the job has it', () => {
    expect(downloadItems(job(BASE), null).flatMap((i) => i.files)).not.toContain('report.csv');
    const csv = downloadItems(job([...BASE, 'report.csv']), null).find((i) => i.files[0] === 'report.csv');
    expect(csv?.label).toBe('Report (CSV)');
    expect(downloadItems(job([]), null).flatMap((i) => i.files)).not.toContain('report.csv');
  });

  it('offers no DICOM files for a NIfTI input', () => {
    const files = downloadItems(job(BASE), null).flatMap((i) => i.files);
    expect(files).not.toContain('seg.dcm');
    expect(files).not.toContain('rtstruct.dcm');
    expect(files).toContain('result.zip');
  });
});
