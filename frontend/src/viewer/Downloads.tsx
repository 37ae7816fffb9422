import { useState } from 'react';
import type { Job } from '../api/types';
import { downloadResult } from '../lib/download';
import { formatBytes } from '../lib/format';
import { useServices } from '../state/services';
import { useViewer } from '../state/viewer';

interface Item {
  label: string;
  files: string[];
}

export function downloadItems(job: Job, selected: string | null): Item[] {
  const names = new Set((job.files ?? []).map((f) => f.name));
  const has = (n: string) => names.size === 0 || names.has(n);
  const items: Item[] = [
    { label: 'ZIP (everything)', files: ['result.zip'] },
    { label: 'GLB', files: ['scene.glb'] },
    { label: 'OBJ + MTL', files: ['scene.obj', 'scene.mtl'] },
    { label: 'Report (JSON)', files: ['report.json'] },
    { label: 'Label map (NIfTI)', files: ['segmentation.nii.gz'] },
  ].filter((i) => i.files.every(has));
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
      for (const f of item.files) await downloadResult(api, job.jobId, f);
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
      {stlCount > 0 && <p className="text-xs text-slate-400">{stlCount} STL files are in the ZIP; select a structure to download its STL alone.</p>}
      {error && (
        <p role="alert" className="text-xs text-red-400">
          {error}
        </p>
      )}
    </section>
  );
}
