import type { ClipAxis } from '../lib/ras';
import { useViewer } from '../state/viewer';

export function ViewerToolbar() {
  const clip = useViewer((s) => s.clip);
  const slicesOpen = useViewer((s) => s.slicesOpen);
  const { setClip, requestReset, requestScreenshot, toggleSlices: onToggleSlices } = useViewer.getState();
  return (
    <div className="flex flex-wrap items-center gap-2 text-xs" role="toolbar" aria-label="Viewer tools">
      <button type="button" className="btn-secondary" onClick={requestReset} aria-keyshortcuts="r">
        Reset view
      </button>
      <button type="button" className="btn-secondary" onClick={requestScreenshot} aria-keyshortcuts="p">
        Screenshot
      </button>
      <button type="button" className="btn-secondary" aria-pressed={slicesOpen} onClick={onToggleSlices} aria-keyshortcuts="l">
        {slicesOpen ? 'Hide slices' : 'Show slices'}
      </button>
      <span className="mx-1 h-5 w-px bg-slate-700" aria-hidden="true" />
      <label className="flex items-center gap-1">
        <input type="checkbox" checked={clip.enabled} onChange={(e) => setClip({ enabled: e.target.checked })} className="accent-sky-500" aria-keyshortcuts="c" />
        Clipping plane
      </label>
      <label className="sr-only" htmlFor="clip-axis">
        Clipping plane orientation
      </label>
      <select id="clip-axis" className="input w-auto py-0.5" value={clip.axis} disabled={!clip.enabled} onChange={(e) => setClip({ axis: e.target.value as ClipAxis })}>
        <option value="axial">Axial</option>
        <option value="coronal">Coronal</option>
        <option value="sagittal">Sagittal</option>
      </select>
      <label className="sr-only" htmlFor="clip-position">
        Clipping plane position
      </label>
      <input id="clip-position" type="range" min={0} max={1} step={0.01} value={clip.position} disabled={!clip.enabled} onChange={(e) => setClip({ position: Number(e.target.value) })} className="w-32 accent-sky-500" />
      <label className="flex items-center gap-1">
        <input type="checkbox" checked={clip.flip} disabled={!clip.enabled} onChange={(e) => setClip({ flip: e.target.checked })} className="accent-sky-500" />
        Flip
      </label>
    </div>
  );
}
