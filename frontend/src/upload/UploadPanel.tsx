// Choose or drop a scan/image (or a DICOM folder, zipped here), pick the task, upload with progress.
import { useEffect, useRef, useState, type DragEvent } from 'react';
import type { TotalsegOptions } from '../api/types';
import { entriesFromFiles, folderName, prepareDicomFolder, type FolderEntry } from '../lib/dicomZip';
import { formatBytes, safeFilename } from '../lib/format';
import { useCapabilities } from '../state/capabilities';
import { useServices } from '../state/services';
import { effectiveOptions, EngineOptions } from './EngineOptions';
import { submitJob, type Task } from './submit';

export type { Task };
export const DEFAULT_OPTIONS: TotalsegOptions = { device: 'gpu', fast: false, reduction_percent: null, stl: false, roi_subset: null };
const ACCEPT = '.nii,.nii.gz,.gz,.zip,.dcm,.jpg,.jpeg,.png';

/** The task a file implies: images are classified, volumes segmented; a .dcm may be either. */
export function taskFor(name: string): Task {
  return /\.(jpe?g|png)$/i.test(name) ? 'classify' : 'totalseg';
}

async function filesFromDrop(e: DragEvent): Promise<FolderEntry[]> {
  const items = [...e.dataTransfer.items];
  const entries = items.map((i) => i.webkitGetAsEntry?.()).filter(Boolean) as FileSystemEntry[];
  if (!entries.some((x) => x.isDirectory)) return entriesFromFiles(e.dataTransfer.files);
  const out: FolderEntry[] = [];
  async function walk(entry: FileSystemEntry, prefix: string): Promise<void> {
    if (entry.isFile) {
      const file = await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej));
      if (!file.name.startsWith('.')) out.push({ path: prefix + file.name, file });
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const child of batch) await walk(child, `${prefix}${entry.name}/`);
      }
    }
  }
  for (const entry of entries) await walk(entry, '');
  return out;
}

export function UploadPanel() {
  const { api } = useServices();
  const capabilities = useCapabilities((s) => s.capabilities);
  const loadCapabilities = useCapabilities((s) => s.load);
  useEffect(() => void loadCapabilities(api), [api, loadCapabilities]);
  const [file, setFile] = useState<File | null>(null);
  const [folder, setFolder] = useState<FolderEntry[] | null>(null);
  const [task, setTask] = useState<Task>('totalseg');
  const [options, setOptions] = useState<TotalsegOptions>(DEFAULT_OPTIONS);
  const [progress, setProgress] = useState<{ loaded: number; total: number } | null>(null);
  const [phase, setPhase] = useState<'idle' | 'zipping' | 'uploading' | 'starting'>('idle');
  const [error, setError] = useState<string | null>(null);
  // DICOM folders leave the machine de-identified unless the user says otherwise
  const [deidentify, setDeidentify] = useState(true);
  const [notice, setNotice] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const abort = useRef<AbortController | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);

  function chooseFile(f: File) {
    setFile(f);
    setFolder(null);
    setTask(taskFor(f.name));
    setError(null);
  }
  function chooseFolder(entries: FolderEntry[]) {
    if (!entries.length) return;
    setFolder(entries);
    setFile(null);
    setTask('totalseg');
    setError(null);
  }

  async function onDrop(e: DragEvent) {
    e.preventDefault();
    setDragging(false);
    const entries = await filesFromDrop(e);
    if (entries.length === 1 && !entries[0].path.includes('/')) chooseFile(entries[0].file as File);
    else chooseFolder(entries);
  }

  async function start() {
    performance.mark('oculus:upload-click'); // timing marks: bench/stack-timing.mjs
    setError(null);
    setNotice(null);
    const ctrl = new AbortController();
    abort.current = ctrl;
    try {
      let toSend = file;
      if (folder) {
        setPhase('zipping');
        // a folder is often named after the patient: a de-identified upload gets a neutral name
        const name = deidentify ? 'dicom-series' : safeFilename(folderName(folder));
        const prepared = await prepareDicomFolder(folder, name, { deidentify });
        toSend = prepared.file;
        const notes = [];
        if (prepared.burnedIn.length) notes.push(`${prepared.burnedIn.length} image(s) are marked as having text burned into the pixels (possibly a name); de-identification cannot remove it.`);
        if (prepared.skipped.length) notes.push(`${prepared.skipped.length} file(s) that are not DICOM were left out.`);
        setNotice(notes.length ? notes.join(' ') : null);
      }
      if (!toSend) return;
      const named = toSend.name === safeFilename(toSend.name) ? toSend : new File([toSend], safeFilename(toSend.name), { type: toSend.type });
      setPhase('uploading');
      setProgress({ loaded: 0, total: named.size });
      await submitJob(api, { file: named, task, options: effectiveOptions(options, capabilities) }, { signal: ctrl.signal, onProgress: (loaded, total) => setProgress({ loaded, total }), onStarting: () => setPhase('starting') });
      setFile(null);
      setFolder(null);
    } catch (e) {
      setError((e as Error).name === 'AbortError' ? 'Upload cancelled.' : (e as Error).message);
    } finally {
      setPhase('idle');
      setProgress(null);
      abort.current = null;
    }
  }

  const busy = phase !== 'idle';
  const selection = file ? `${file.name} · ${formatBytes(file.size)}` : folder ? `${folderName(folder)}/ · ${folder.length} files (zipped before upload)` : null;
  const pct = progress && progress.total ? Math.round((progress.loaded / progress.total) * 100) : 0;

  return (
    <section aria-labelledby="upload-heading" className="space-y-2">
      <h2 id="upload-heading" className="text-sm font-semibold text-slate-100">
        New job
      </h2>
      <div
        onDragOver={(e) => (e.preventDefault(), setDragging(true))}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
        className={`rounded border border-dashed p-3 text-center text-xs ${dragging ? 'border-sky-400 bg-sky-950/40' : 'border-slate-700'}`}
        data-testid="dropzone"
      >
        <p className="text-slate-400">Drop a NIfTI, DICOM folder or ZIP, or a brain-MRI image</p>
        <div className="mt-2 flex justify-center gap-2">
          <button type="button" className="btn-secondary" onClick={() => fileInput.current?.click()} disabled={busy}>
            Choose file
          </button>
          <button type="button" className="btn-secondary" onClick={() => folderInput.current?.click()} disabled={busy}>
            Choose DICOM folder
          </button>
        </div>
        <input ref={fileInput} type="file" accept={ACCEPT} className="sr-only" tabIndex={-1} aria-label="Scan or image file" onChange={(e) => e.target.files?.[0] && chooseFile(e.target.files[0])} data-testid="file-input" />
        <input
          ref={folderInput}
          type="file"
          className="sr-only"
          tabIndex={-1}
          aria-label="DICOM folder"
          {...({ webkitdirectory: '', directory: '' } as Record<string, string>)}
          onChange={(e) => e.target.files && chooseFolder(entriesFromFiles(e.target.files))}
        />
      </div>
      {selection && <p className="truncate text-xs text-slate-300" data-testid="selected-file">{selection}</p>}
      {folder && (
        <label className="flex items-center gap-2 text-xs" title="Removes names, IDs, dates and private tags (DICOM PS3.15 Basic Profile) in this browser; pixels, geometry and UIDs are kept">
          <input type="checkbox" checked={deidentify} disabled={busy} onChange={(e) => setDeidentify(e.target.checked)} className="accent-sky-500" aria-label="De-identify before upload" />
          De-identify before upload (names and IDs never leave this computer)
        </label>
      )}
      {selection && (
        <fieldset className="space-y-1.5 text-xs" disabled={busy}>
          <legend className="sr-only">Task and options</legend>
          <label className="flex items-center gap-2">
            <span className="w-20 text-slate-400">Task</span>
            <select className="input py-0.5" value={task} onChange={(e) => setTask(e.target.value as Task)} aria-label="Task">
              <option value="totalseg">Segment organs (3D)</option>
              <option value="classify">Classify brain MRI</option>
            </select>
          </label>
          {task === 'totalseg' && (
            <>
              <EngineOptions capabilities={capabilities} options={options} onChange={setOptions} />
              <label className="flex items-center gap-2">
                <input type="checkbox" checked={options.stl} onChange={(e) => setOptions({ ...options, stl: e.target.checked })} className="accent-sky-500" />
                STL per structure
              </label>
              <label className="flex items-center gap-2" title="By default the engine removes as many triangles as it can while keeping every surface within half a voxel of the segmentation">
                <input type="checkbox" checked={options.reduction_percent !== null} onChange={(e) => setOptions({ ...options, reduction_percent: e.target.checked ? 90 : null })} className="accent-sky-500" aria-label="Override mesh reduction" />
                <span className="w-20 text-slate-400">Reduction</span>
                {options.reduction_percent === null ? (
                  <span className="flex-1 text-slate-400">auto</span>
                ) : (
                  <>
                    <input type="range" min={0} max={99} value={options.reduction_percent} onChange={(e) => setOptions({ ...options, reduction_percent: Number(e.target.value) })} className="flex-1 accent-sky-500" aria-label="Mesh reduction percent" />
                    <span className="w-9 text-right tabular-nums">{options.reduction_percent} %</span>
                  </>
                )}
              </label>
              <p className="text-[11px] text-slate-500" data-testid="reduction-help">
                Auto: fewest triangles, every surface within ½ voxel.
              </p>
              <label className="flex items-center gap-2">
                <span className="w-20 text-slate-400">Device</span>
                <select className="input py-0.5" value={options.device} onChange={(e) => setOptions({ ...options, device: e.target.value as 'gpu' | 'cpu' })} aria-label="Device">
                  <option value="gpu">GPU</option>
                  <option value="cpu">CPU</option>
                </select>
              </label>
            </>
          )}
        </fieldset>
      )}
      {selection && (
        <div className="flex gap-2">
          <button type="button" className="btn-primary flex-1" onClick={start} disabled={busy}>
            {phase === 'zipping' ? 'Zipping folder…' : phase === 'uploading' ? 'Uploading…' : phase === 'starting' ? 'Starting…' : 'Upload and start'}
          </button>
          {phase === 'uploading' && (
            <button type="button" className="btn-secondary" onClick={() => abort.current?.abort()}>
              Cancel
            </button>
          )}
        </div>
      )}
      {progress && (
        <div className="space-y-0.5">
          <div className="h-1.5 rounded bg-slate-800" role="progressbar" aria-label="Upload progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
            <div className="h-1.5 rounded bg-sky-500 transition-[width]" style={{ width: `${pct}%` }} />
          </div>
          <p className="text-right text-[11px] tabular-nums text-slate-400">
            {formatBytes(progress.loaded)} / {formatBytes(progress.total)}
          </p>
        </div>
      )}
      {notice && (
        <p role="status" className="text-xs text-amber-300" data-testid="upload-notice">
          {notice}
        </p>
      )}
      {error && (
        <p role="alert" className="text-xs text-red-400">
          {error}
        </p>
      )}
    </section>
  );
}
