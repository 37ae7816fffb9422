import type { ClipAxis, StandardView } from '../lib/ras';
import { useViewer } from '../state/viewer';

/** Standard views: the button's letter is the side of the patient that faces the camera. */
export const VIEW_BUTTONS: [StandardView, string, string][] = [
  ['anterior', 'A', 'Anterior view'],
  ['posterior', 'P', 'Posterior view'],
  ['right', 'R', "Right view (the patient's right faces you)"],
  ['left', 'L', "Left view (the patient's left faces you)"],
  ['superior', 'S', 'Superior view (from above)'],
  ['inferior', 'I', 'Inferior view (from below)'],
];

export function ViewerToolbar() {
  const clip = useViewer((s) => s.clip);
  const slicesOpen = useViewer((s) => s.slicesOpen);
  const dimOthers = useViewer((s) => s.dimOthers);
  const { setClip, requestReset, requestScreenshot, requestView, toggleDimOthers, toggleSlices: onToggleSlices } = useViewer.getState();
  return (
    <div className="flex flex-wrap items-center gap-2 text-xs" role="toolbar" aria-label="Viewer tools">
      <button type="button" className="btn-secondary" onClick={requestReset} aria-keyshortcuts="r">
        Reset view
      </button>
      <button type="button" className="btn-secondary" onClick={requestScreenshot} aria-keyshortcuts="p">
        Screenshot
      </button>
      <button type="button" className="btn-secondary hidden md:inline-block" aria-pressed={slicesOpen} onClick={onToggleSlices} aria-keyshortcuts="l">
        {slicesOpen ? 'Hide slices' : 'Show slices'}
      </button>
      <span className="flex gap-0.5" role="group" aria-label="Standard views">
        {VIEW_BUTTONS.map(([view, letter, label]) => (
          <button key={view} type="button" className="btn-secondary w-7 px-0 font-semibold" aria-label={label} title={label} onClick={() => requestView(view)}>
            {letter}
          </button>
        ))}
      </span>
      <label className="flex items-center gap-1" title="Fade every structure but the selected one">
        <input type="checkbox" checked={dimOthers} onChange={toggleDimOthers} className="accent-sky-500" aria-keyshortcuts="d" />
        Dim others
      </label>
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
      <input id="clip-position" type="range" min={0} max={1} step={0.01} value={clip.position} disabled={!clip.enabled} onChange={(e) => setClip({ position: Number(e.target.value) })} className="w-24 accent-sky-500 md:w-32" />
      <label className="flex items-center gap-1">
        <input type="checkbox" checked={clip.flip} disabled={!clip.enabled} onChange={(e) => setClip({ flip: e.target.checked })} className="accent-sky-500" />
        Flip
      </label>
    </div>
  );
}
