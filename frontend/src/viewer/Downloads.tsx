import { useState } from 'react';
import type { Job } from '../api/types';
import { downloadAsZip, downloadResult } from '../lib/download';
import { formatBytes } from '../lib/format';
import { useServices } from '../state/services';
import { useViewer } from '../state/viewer';
import { jobStem } from './jobStem';

interface Item {
  label: string;
  files: string[];
  /** Saved together as one ZIP of this name suffix. */
  zip?: string;
  /** One line on what the file is for (shown under the buttons). */
  hint?: string;
}

export function downloadItems(job: Job, selected: string | null): Item[] {
  const names = new Set((job.files ?? []).map((f) => f.name));
  const has = (n: string) => names.size === 0 || names.has(n);
  const items: Item[] = [
    { label: 'ZIP (everything)', files: ['result.zip'] },
    { label: 'GLB', files: ['scene.glb'] },
    { label: 'OBJ + MTL (ZIP)', files: ['scene.obj', 'scene.mtl'], zip: 'obj.zip' },
    { label: 'Report (JSON)', files: ['report.json'] },
    { label: 'Label map (NIfTI)', files: ['segmentation.nii.gz'] },
  ].filter((i) => i.files.every(has));
  // only for DICOM input, so offered only when the job really has them
  const dicom: Item[] = [
    { label: 'DICOM SEG', files: ['seg.dcm'], hint: 'DICOM SEG: the segmentation on the source series, for PACS, OHIF or 3D Slicer.' },
    { label: 'RTSTRUCT', files: ['rtstruct.dcm'], hint: 'RTSTRUCT: one contoured ROI per structure, for radiotherapy planning systems.' },
  ];
  items.push(...dicom.filter((i) => names.has(i.files[0])));
  // older jobs have no report.csv: offered only when this one has it
  if (names.has('report.csv')) items.push({ label: 'Report (CSV)', files: ['report.csv'], hint: 'Report (CSV): one row of measurements per structure, for spreadsheets.' });
  const stl = selected && `stl/${selected}.stl`;
  if (stl && names.has(stl)) items.push({ label: `STL: ${selected}`, files: [stl] });
  return items;
}

export function Downloads({ job }: { job: Job }) {
  const { api } = useServices();
  const selected = useViewer((s) => s.selected);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const stlCount = (job.files ?? []).filter((f) => f.name.startsWith('stl/')).length;
  const sizeOf = (n: string) => job.files?.find((f) => f.name === n)?.size;

  async function get(item: Item) {
    setBusy(item.label);
    setError(null);
    try {
      const stem = jobStem(job);
      if (item.zip) await downloadAsZip(api, job.jobId, item.files, `${stem}-${item.zip}`);
      else for (const f of item.files) await downloadResult(api, job.jobId, f, stem, sizeOf(f));
    } catch (e) {
      setError(`${item.label}: ${(e as Error).message}`);
    } finally {
      setBusy(null);
    }
  }

  return (
    <section aria-labelledby="downloads-heading" className="space-y-1">
      <h2 id="downloads-heading" className="text-sm font-semibold text-slate-100">
        Downloads
      </h2>
      <div className="flex flex-wrap gap-1.5">
        {downloadItems(job, selected).map((item) => (
          <button key={item.label} type="button" className="btn-secondary text-xs" disabled={busy !== null} onClick={() => get(item)} title={item.files.map((f) => `${f} ${sizeOf(f) ? formatBytes(sizeOf(f)) : ''}`).join(', ')}>
            {busy === item.label ? 'Downloading…' : `Download ${item.label}`}
          </button>
        ))}
      </div>
      {downloadItems(job, selected)
        .filter((item) => item.hint)
        .map((item) => (
          <p key={item.label} className="text-xs text-slate-400">
            {item.hint}
          </p>
        ))}
      {stlCount > 0 && <p className="text-xs text-slate-400">{stlCount} STL files are in the ZIP; select a structure to download its STL alone.</p>}
      {error && (
        <p role="alert" className="text-xs text-red-400">
          {error}
        </p>
      )}
    </section>
  );
}
