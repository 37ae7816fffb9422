// Axial / coronal / sagittal slices of the scan with the label map on top (NiiVue, loaded lazily).
// Selection is linked both ways with the 3D view through the viewer store.
import { Niivue, SHOW_RENDER } from '@niivue/niivue';
import { useEffect, useRef, useState } from 'react';
import type { Job } from '../api/types';
import { useServices } from '../state/services';
import { useViewer } from '../state/viewer';
import { labelColormap, scanFileOf } from './labelColormap';

type Plane = 'multi' | 'axial' | 'coronal' | 'sagittal';

export default function SliceViewer({ job }: { job: Job }) {
  const { api } = useServices();
  const canvas = useRef<HTMLCanvasElement>(null);
  const nvRef = useRef<Niivue | null>(null);
  const segIndex = useRef(0);
  const pickedHere = useRef<string | null>(null);
  const [status, setStatus] = useState<'loading' | 'ready' | string>('loading');
  const [note, setNote] = useState<string | null>(null);
  const [plane, setPlane] = useState<Plane>('multi');
  const structures = useViewer((s) => s.structures);
  const selected = useViewer((s) => s.selected);

  useEffect(() => {
    let disposed = false;
    const urls: string[] = [];
    const nv = new Niivue({
      backColor: [0.043, 0.067, 0.125, 1],
      show3Dcrosshair: false,
      isColorbar: false,
      isOrientCube: false,
      dragAndDropEnabled: false,
      multiplanarShowRender: SHOW_RENDER.NEVER,
      crosshairColor: [0.2, 0.7, 1, 0.8],
      isRadiologicalConvention: true, // patient right on screen left, as in the 3D anterior view
    });
    nvRef.current = nv;
    (async () => {
      await nv.attachToCanvas(canvas.current!);
      nv.setSliceType(nv.sliceTypeMultiplanar);
      const files = (job.files ?? []).map((f) => f.name);
      const scanName = scanFileOf(files, job.input?.filename);
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
      volumes.push({ url: segUrl, name: 'segmentation.nii.gz', opacity: volumes.length ? 0.45 : 1 });
      if (disposed) return;
      await nv.loadVolumes(volumes);
      nv.volumes[segIndex.current].setColormapLabel(labelColormap(useViewer.getState().structures));
      nv.updateGLVolume();
      nv.onLocationChange = (loc) => {
        const values = (loc as { values?: { value: number }[] }).values ?? [];
        const label = Math.round(values[segIndex.current]?.value ?? 0);
        const hit = useViewer.getState().structures.find((s) => s.label === label);
        pickedHere.current = hit?.name ?? null;
        useViewer.getState().select(hit?.name ?? null);
      };
      if (!disposed) setStatus('ready');
    })().catch((e) => !disposed && setStatus(`The slices could not be loaded: ${(e as Error).message}`));
    return () => {
      disposed = true;
      nv.onLocationChange = () => {};
      urls.forEach((u) => URL.revokeObjectURL(u));
      nvRef.current = null;
    };
  }, [api, job.jobId]); // eslint-disable-line react-hooks/exhaustive-deps

  // 3D -> slices: move the crosshair to the selected structure's centroid (RAS mm, as NiiVue's world).
  useEffect(() => {
    const nv = nvRef.current;
    if (status !== 'ready' || !nv || !selected) return;
    if (pickedHere.current === selected) return; // the user clicked it here: keep their crosshair
    pickedHere.current = null;
    const s = structures.find((x) => x.name === selected);
    if (!s?.centroid) return;
    nv.scene.crosshairPos = nv.mm2frac([s.centroid[0], s.centroid[1], s.centroid[2]]);
    nv.drawScene();
  }, [selected, structures, status]);

  useEffect(() => {
    const nv = nvRef.current;
    if (status !== 'ready' || !nv) return;
    const type = { multi: nv.sliceTypeMultiplanar, axial: nv.sliceTypeAxial, coronal: nv.sliceTypeCoronal, sagittal: nv.sliceTypeSagittal }[plane];
    nv.setSliceType(type);
  }, [plane, status]);

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
      {note && <p className="px-2 py-1 text-xs text-amber-300">{note}</p>}
      {status !== 'loading' && status !== 'ready' && (
        <p role="alert" className="px-2 py-1 text-xs text-red-400">
          {status}
        </p>
      )}
      <div className="relative min-h-0 flex-1">
        <canvas ref={canvas} className="absolute inset-0 h-full w-full" aria-label="Scan slices with the label map" data-testid="slices-canvas" data-ready={status === 'ready'} />
      </div>
    </div>
  );
}
