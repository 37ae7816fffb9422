// Axial / coronal / sagittal slices of the scan with the label map on top (NiiVue, loaded lazily).
// Selection is linked both ways with the 3D view through the viewer store.
import { SHOW_RENDER, type Niivue } from '@niivue/niivue';
import { useEffect, useRef, useState } from 'react';
import type { Job } from '../api/types';
import { useServices } from '../state/services';
import { useViewer } from '../state/viewer';
import { labelColormap, scanFileOf } from './labelColormap';
import { useNiivue, type NiivueOptions } from './useNiivue';

type Plane = 'multi' | 'axial' | 'coronal' | 'sagittal';

const SLICE_VIEW: NiivueOptions = {
  backColor: [0.043, 0.067, 0.125, 1],
  show3Dcrosshair: false,
  isColorbar: false,
  isOrientCube: false,
  dragAndDropEnabled: false,
  multiplanarShowRender: SHOW_RENDER.NEVER,
  crosshairColor: [0.2, 0.7, 1, 0.8],
  isRadiologicalConvention: true, // patient right on screen left, as in the 3D anterior view
};

/** What the slices of one job on one NiiVue instance came to: 'ready' or why they could not load. */
type Loaded = { nv: Niivue; jobId: string; status: string };

export default function SliceViewer({ job }: { job: Job }) {
  const { api } = useServices();
  const host = useRef<HTMLDivElement>(null);
  const { nv, error: glError } = useNiivue(host, SLICE_VIEW, 'Scan slices with the label map');
  const segIndex = useRef(0);
  const pickedHere = useRef<string | null>(null);
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [plane, setPlane] = useState<Plane>('multi');
  const [position, setPosition] = useState<string>('');
  const [preset, setPreset] = useState<WindowPreset>('auto');
  const lastClick = useRef(0);
  const structures = useViewer((s) => s.structures);
  const selected = useViewer((s) => s.selected);
  const hidden = useViewer((s) => s.hidden);
  const overlayOpacity = useViewer((s) => s.overlayOpacity);
  const setOverlayOpacity = useViewer((s) => s.setOverlayOpacity);
  // Only a change of the scan itself reloads the slices, not every poll of the job.
  const scanName = scanFileOf((job.files ?? []).map((f) => f.name), job.input?.filename);
  const status = glError
    ? `The slices could not be shown: ${glError}`
    : loaded && loaded.nv === nv && loaded.jobId === job.jobId
      ? loaded.status
      : 'loading';

  useEffect(() => {
    if (!nv) return;
    let disposed = false;
    const urls: string[] = [];
    const stopListening = new AbortController();
    const settle = (outcome: string) => {
      if (!disposed) setLoaded({ nv, jobId: job.jobId, status: outcome });
    };
    (async () => {
      nv.setSliceType(nv.sliceTypeMultiplanar); // the plane buttons take over once the slices are ready
      const volumes: { url: string; name: string; colormap?: string; opacity?: number }[] = [];
      if (scanName) {
        try {
          const url = URL.createObjectURL(await api.fileBlob(job.jobId, scanName));
          urls.push(url);
          volumes.push({ url, name: 'scan.nii.gz', colormap: 'gray' });
        } catch {
          setNote('The original scan is not available here; showing the label map alone.');
        }
      } else setNote('The original scan is not a NIfTI file; showing the label map alone.');
      const segUrl = URL.createObjectURL(await api.fileBlob(job.jobId, 'segmentation.nii.gz'));
      urls.push(segUrl);
      segIndex.current = volumes.length;
      volumes.push({ url: segUrl, name: 'segmentation.nii.gz', opacity: volumes.length ? useViewer.getState().overlayOpacity : 1 });
      if (disposed) return;
      await nv.loadVolumes(volumes);
      nv.volumes[segIndex.current].setColormapLabel(labelColormap(useViewer.getState().structures, useViewer.getState().hidden));
      nv.updateGLVolume();
      nv.addEventListener(
        'locationChange',
        (event) => {
          const detail = event.detail as { values?: { value: number }[]; mm?: ArrayLike<number>; vox?: ArrayLike<number> };
          setPosition(describePosition(detail, nv.volumes[0]?.dims));
          if (detail.mm) useViewer.getState().setSliceCursor([detail.mm[0], detail.mm[1], detail.mm[2]]);
          // Only a click picks a structure: scrolling or arrow keys move through the slices and keep the selection.
          if (performance.now() - lastClick.current > CLICK_WINDOW_MS) return;
          const label = Math.round(detail.values?.[segIndex.current]?.value ?? 0);
          const hit = useViewer.getState().structures.find((s) => s.label === label);
          pickedHere.current = hit?.name ?? null;
          useViewer.getState().select(hit?.name ?? null);
        },
        { signal: stopListening.signal },
      );
      const at = nv.scene.crosshairPos;
      const mm = nv.frac2mm(at);
      if (!disposed) setPosition(describePosition({ mm, vox: nv.frac2vox(at) }, nv.volumes[0]?.dims));
      useViewer.getState().setSliceCursor([mm[0], mm[1], mm[2]]);
      settle('ready');
    })().catch((e) => settle(`The slices could not be loaded: ${(e as Error).message}`));
    return () => {
      disposed = true;
      stopListening.abort();
      useViewer.getState().setSliceCursor(null);
      urls.forEach((u) => URL.revokeObjectURL(u));
    };
  }, [nv, api, job.jobId, scanName]);

  // 3D -> slices: move the crosshair to the selected structure's centroid (RAS mm, as NiiVue's world).
  useEffect(() => {
    if (status !== 'ready' || !nv || !selected) return;
    if (pickedHere.current === selected) return; // the user clicked it here: keep their crosshair
    pickedHere.current = null;
    const s = structures.find((x) => x.name === selected);
    if (s?.centroid) {
      const mm = moveCrosshairToMm(nv, s.centroid);
      useViewer.getState().setSliceCursor([mm[0], mm[1], mm[2]]);
    }
  }, [nv, selected, structures, status]);

  // Hidden in 3D = hidden here; the overlay's opacity follows its slider.
  useEffect(() => {
    if (status !== 'ready' || !nv) return;
    nv.volumes[segIndex.current]?.setColormapLabel(labelColormap(structures, hidden));
    if (segIndex.current > 0) nv.setOpacity(segIndex.current, overlayOpacity);
    nv.updateGLVolume();
  }, [nv, status, structures, hidden, overlayOpacity]);

  useEffect(() => {
    if (status !== 'ready' || !nv || segIndex.current === 0 || preset === 'auto') return;
    applyWindow(nv, WINDOW_PRESETS[preset]);
  }, [nv, status, preset]);

  useEffect(() => {
    if (status !== 'ready' || !nv) return;
    const type = { multi: nv.sliceTypeMultiplanar, axial: nv.sliceTypeAxial, coronal: nv.sliceTypeCoronal, sagittal: nv.sliceTypeSagittal }[plane];
    nv.setSliceType(type);
  }, [nv, plane, status]);

  return (
    <div className="flex h-full flex-col">
      <div className="flex items-center gap-1 border-b border-slate-800 p-1 text-xs" role="toolbar" aria-label="Slice planes">
        {(['multi', 'axial', 'coronal', 'sagittal'] as Plane[]).map((p) => (
          <button key={p} type="button" className={`btn-secondary px-2 py-0.5 ${plane === p ? 'ring-1 ring-sky-500' : ''}`} aria-pressed={plane === p} onClick={() => setPlane(p)}>
            {p === 'multi' ? 'All planes' : p[0].toUpperCase() + p.slice(1)}
          </button>
        ))}
        <span className="ml-auto text-slate-400" aria-live="polite">
          {status === 'loading' ? 'Loading slices…' : status === 'ready' ? (selected ? selected.replace(/_/g, ' ') : 'Click a structure') : ''}
        </span>
      </div>
      <div className="flex flex-wrap items-center gap-x-3 gap-y-1 border-b border-slate-800 px-2 py-1 text-xs text-slate-300" role="toolbar" aria-label="Slice display">
        <label className="flex items-center gap-1">
          Overlay
          <input type="range" min={0} max={1} step={0.05} value={overlayOpacity} onChange={(e) => setOverlayOpacity(Number(e.target.value))} className="w-20 accent-sky-500" aria-label="Label overlay opacity" />
        </label>
        <label className="flex items-center gap-1" title="Right-drag on a slice also sets window and level">
          Window
          <select className="input w-auto py-0 text-xs" value={preset} onChange={(e) => setPreset(e.target.value as WindowPreset)} aria-label="Window preset" disabled={note !== null}>
            <option value="auto">Auto</option>
            {Object.entries(WINDOW_PRESETS).map(([k, p]) => (
              <option key={k} value={k}>
                {p.label} (W {p.width} / L {p.level})
              </option>
            ))}
          </select>
        </label>
        <span className="tabular-nums text-slate-400" data-testid="slice-position">
          {position}
        </span>
      </div>
      {note && <p className="px-2 py-1 text-xs text-amber-300">{note}</p>}
      {status !== 'loading' && status !== 'ready' && (
        <p role="alert" className="px-2 py-1 text-xs text-red-400">
          {status}
        </p>
      )}
      {/* useNiivue puts its canvas in here */}
      <div ref={host} className="relative min-h-0 flex-1 touch-none" data-testid="slices" data-ready={status === 'ready'} onPointerDownCapture={(e) => e.button === 0 && (lastClick.current = performance.now())} />
    </div>
  );
}

/** A click moves the crosshair at once; only a location change this soon after a click picks a structure. */
const CLICK_WINDOW_MS = 500;

/** Window / level presets in HU (CT). */
export const WINDOW_PRESETS = {
  soft: { label: 'Soft tissue', width: 400, level: 40 },
  lung: { label: 'Lung', width: 1500, level: -600 },
  bone: { label: 'Bone', width: 1800, level: 400 },
  brain: { label: 'Brain', width: 80, level: 40 },
} as const;
type WindowPreset = keyof typeof WINDOW_PRESETS | 'auto';

/** "Voxel 12, 40, 7 of 256 × 256 × 120 · RAS 10.0, -3.5, 42.0 mm" from NiiVue's location event. */
export function describePosition(detail: { mm?: ArrayLike<number>; vox?: ArrayLike<number> }, dims?: ArrayLike<number>): string {
  const parts: string[] = [];
  if (detail.vox && detail.vox.length >= 3) {
    const v = [0, 1, 2].map((i) => Math.round(detail.vox![i]) + 1);
    parts.push(`Slice ${v.join(', ')}` + (dims && dims.length >= 4 ? ` of ${dims[1]} × ${dims[2]} × ${dims[3]}` : ''));
  }
  if (detail.mm && detail.mm.length >= 3) parts.push(`RAS ${[0, 1, 2].map((i) => detail.mm![i].toFixed(1)).join(', ')} mm`);
  return parts.join(' · ');
}

/** Window / level on the scan (volume 0): NiiVue reads cal_min / cal_max on its next upload. */
function applyWindow(nv: Niivue, { width, level }: { width: number; level: number }) {
  const scan = nv.volumes[0];
  scan.cal_min = level - width / 2;
  scan.cal_max = level + width / 2;
  nv.updateGLVolume();
}

const CROSSHAIR_MARGIN = 1e-3;

function moveCrosshairToMm(nv: Niivue, mm: readonly number[]) {
  // A point outside the scan (a report from another grid) would leave the crosshair off every slice.
  // Kept strictly inside: NiiVue ignores clicks and scrolling while the crosshair is on or past the edge.
  const frac = nv.mm2frac([mm[0], mm[1], mm[2]]);
  for (let i = 0; i < 3; i++) frac[i] = Math.min(1 - CROSSHAIR_MARGIN, Math.max(CROSSHAIR_MARGIN, frac[i]));
  nv.scene.crosshairPos = frac;
  nv.drawScene();
  return nv.frac2mm(frac);
}
