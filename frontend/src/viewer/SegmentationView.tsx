// A completed segmentation: 3D scene, structure list, tools, downloads and (on demand) slices.
import { lazy, Suspense, useEffect, useEffectEvent, useState } from 'react';
import type { ApiClient } from '../api/client';
import type { EngineInfo, Job, SceneReport } from '../api/types';
import { displayName, structuresFromReport } from '../lib/anatomy';
import { formatMl } from '../lib/format';
import { useLayout, useNarrow } from '../state/layout';
import { useServices } from '../state/services';
import { useViewer } from '../state/viewer';
import type { LoadedScene } from './loadScene';
import { Downloads } from './Downloads';
import { jobStem } from './jobStem';
import { MeasurementsTable } from './MeasurementsTable';
import { StructureList } from './StructureList';
import { ViewerToolbar } from './ViewerToolbar';

const importScene3D = () => import('./Scene3D');
type Scene3DView = Awaited<ReturnType<typeof importScene3D>>['default'];

/**
 * The 3D viewer's component once its code is loaded (null before). Not a lazy component: that
 * suspended once more when shown, and React holds a revealed Suspense boundary back for up to
 * 300 ms. It is shown while the scene is still being fetched, so creating the canvas and its
 * lighting overlaps the download.
 */
function useScene3DView(): Scene3DView | null {
  const [view, setView] = useState<{ View: Scene3DView } | null>(null);
  useEffect(() => {
    let live = true;
    importScene3D().then(
      (module) => live && setView({ View: module.default }),
      () => {}, // loadSegmentation reports the failure
    );
    return () => {
      live = false;
    };
  }, []);
  return view?.View ?? null;
}

/** Fetch the 3D viewer's code while a job is still running, so its result shows without that wait. */
export function preloadViewer(): void {
  void Promise.all([importScene3D(), import('./loadScene')]).catch(() => {}); // a failure shows when the job opens
}
const SliceViewer = lazy(() => import('../slices/SliceViewer'));

type LoadState = { status: 'loading' } | { status: 'error'; message: string } | { status: 'ready'; scene: LoadedScene; report: SceneReport | null; format: string };
/** How loading one job's scene ended. */
type Loaded = Exclude<LoadState, { status: 'loading' }> & { jobId: string };

export async function loadSegmentation(api: ApiClient, job: Job, signal?: AbortSignal) {
  const names = new Set((job.files ?? []).map((f) => f.name));
  const has = (n: string) => names.size === 0 || names.has(n);
  const url = (n: string) => job.files?.find((f) => f.name === n)?.url; // a running job's own URLs
  // the report, the GLB and the loader code are fetched side by side
  const reportP = has('report.json') ? api.fileJson<SceneReport>(job.jobId, 'report.json', signal, url('report.json')).catch(() => null) : Promise.resolve(null);
  const glbP = has('scene.glb') ? api.fileBlob(job.jobId, 'scene.glb', signal, url('scene.glb')).then((b) => b.arrayBuffer()) : null;
  glbP?.catch(() => {}); // awaited below; never an unhandled rejection while the loader code loads
  const { parseGlb, parseObj, prepareScene } = await import('./loadScene');
  let object;
  let format = 'GLB';
  if (glbP) {
    const glb = await glbP;
    performance.mark('oculus:glb-fetched');
    object = await parseGlb(glb);
    performance.mark('oculus:glb-parsed');
  } else {
    format = 'OBJ';
    const [obj, mtl] = await Promise.all([
      api.fileBlob(job.jobId, 'scene.obj', signal).then((b) => b.text()),
      api.fileBlob(job.jobId, 'scene.mtl', signal).then((b) => b.text()).catch(() => undefined),
    ]);
    object = parseObj(obj, mtl);
  }
  const report = await reportP;
  const scene = prepareScene(object, report?.structures?.map((s) => s.name) ?? job.result?.structureNames ?? []);
  return { scene, report, format };
}

export function SegmentationView({ job }: { job: Job }) {
  const { api } = useServices();
  const { jobId } = job;
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const state: LoadState = loaded?.jobId === jobId ? loaded : { status: 'loading' };
  const View = useScene3DView();
  const slicesOpen = useViewer((s) => s.slicesOpen);
  const load = useViewer((s) => s.load);
  const select = useViewer((s) => s.select);
  // The scene is loaded once per job id, from the job as it is then: later polls of the same job
  // must not reload it.
  const loadThisJob = useEffectEvent((signal: AbortSignal) => loadSegmentation(api, job, signal));

  useEffect(() => {
    const ctrl = new AbortController();
    performance.mark('oculus:open-job');
    loadThisJob(ctrl.signal)
      .then(({ scene, report, format }) => {
        const fromReport = report?.structures ? structuresFromReport(report.structures) : [];
        const known = new Set(fromReport.map((s) => s.name));
        // Meshes the report does not describe still get a row (grey, no volume).
        const extra = [...scene.meshes.keys()].filter((n) => !known.has(n)).map((n, i) => ({ name: n, label: -1 - i, system: 'other', volumeMl: null, color: '#' + (scene.meshes.get(n)![0].material as unknown as { color: { getHexString(): string } }).color.getHexString(), centroid: null }));
        load([...fromReport.filter((s) => scene.meshes.has(s.name)), ...extra]);
        setLoaded({ jobId, status: 'ready', scene, report, format });
      })
      .catch((e) => {
        if ((e as Error).name !== 'AbortError') setLoaded({ jobId, status: 'error', message: (e as Error).message });
      });
    return () => ctrl.abort();
  }, [api, jobId, load]);

  const engine = job.engine ?? job.result?.engine ?? (state.status === 'ready' ? state.report?.engine : undefined);
  const narrow = useNarrow();
  const tab = useLayout((s) => s.tab);
  // One panel at a time on a phone; side by side from the md breakpoint up.
  const showList = !narrow || tab === 'structures';
  const showSlices = narrow ? tab === 'slices' : slicesOpen;
  const showScene = !narrow || tab === 'viewer';
  const report = state.status === 'ready' ? state.report : null;
  const intensityUnit = typeof report?.intensityUnit === 'string' ? report.intensityUnit : null;

  return (
    <div className="flex h-full min-h-0 gap-3">
      <aside className={`${showList ? 'flex' : 'hidden'} w-full shrink-0 flex-col gap-3 overflow-hidden md:w-72`} aria-label="Structures and downloads">
        <EngineBadge engine={engine ?? undefined} format={state.status === 'ready' ? state.format : undefined} structures={job.result?.structures ?? report?.structures?.length} />
        <div className="flex min-h-0 flex-1 flex-col">
          <StructureList />
        </div>
        {job.status === 'completed' ? (
          <Downloads job={job} />
        ) : (
          <p className="text-xs text-slate-400" role="status" data-testid="finishing">
            Finishing: the downloads and slices follow in a moment.
          </p>
        )}
      </aside>
      <section className={`${showScene || showSlices ? 'flex' : 'hidden'} min-w-0 flex-1 flex-col gap-2`} aria-label="Viewer">
        {showScene && <ViewerToolbar />}
        <div className="flex min-h-0 flex-1 gap-2">
          <div className={`${showScene ? '' : 'hidden'} relative min-w-0 flex-1 overflow-hidden rounded border border-slate-800`} data-testid="scene-container">
            {state.status === 'loading' && <Centered>Loading 3D scene…</Centered>}
            {state.status === 'error' && (
              <Centered>
                <span role="alert" className="text-red-400">
                  The 3D scene could not be loaded: {state.message}
                </span>
              </Centered>
            )}
            {/* eslint-disable-next-line react-hooks/static-components -- the loaded module's default export: one identity for the page's life */}
            {View && state.status !== 'error' && <View scene={state.status === 'ready' ? state.scene : null} screenshotName={`${jobStem(job)}-view.png`} />}
            <SelectionCard intensityUnit={intensityUnit} />
          </div>
          {showSlices && job.status === 'completed' && (
            <div className="min-w-0 flex-1 overflow-hidden rounded border border-slate-800 md:w-[42%] md:min-w-64 md:flex-none" data-testid="slices-container">
              <Suspense fallback={<Centered>Loading the slice viewer…</Centered>}>
                <SliceViewer job={job} />
              </Suspense>
            </div>
          )}
        </div>
        {showScene && report?.structures?.length ? (
          <details className="max-h-[40%] shrink-0 overflow-auto rounded border border-slate-800 px-2 py-1" data-testid="measurements">
            <summary className="cursor-pointer text-sm font-semibold text-slate-100">Measurements ({report.structures.length} structures)</summary>
            <MeasurementsTable structures={report.structures} intensityUnit={intensityUnit} onSelect={select} />
          </details>
        ) : null}
      </section>
    </div>
  );
}

/** The selected structure's name and measurements from report.json, over the 3D view. */
export function SelectionCard({ intensityUnit }: { intensityUnit: string | null }) {
  const selected = useViewer((s) => s.structures.find((x) => x.name === s.selected));
  const select = useViewer((s) => s.select);
  if (!selected) return null;
  const unit = intensityUnit && !intensityUnit.includes('|') ? intensityUnit : 'HU';
  return (
    <div className="absolute left-2 top-2 max-w-[70%] rounded border border-sky-700 bg-slate-900/90 px-2.5 py-1.5 text-xs text-slate-200 shadow" data-testid="selection-card" role="status">
      <div className="flex items-center gap-2">
        <span className="inline-block h-3 w-3 shrink-0 rounded-sm border border-black/40" style={{ backgroundColor: selected.color }} aria-hidden="true" />
        <strong className="truncate text-sm text-slate-50">{displayName(selected.name)}</strong>
        <button type="button" className="ml-auto text-slate-400 hover:text-slate-100" aria-label="Clear the selection" onClick={() => select(null)}>
          ×
        </button>
      </div>
      <dl className="mt-1 grid grid-cols-[auto_1fr] gap-x-2 tabular-nums">
        <dt className="text-slate-400">Volume</dt>
        <dd>{formatMl(selected.volumeMl)}</dd>
        <dt className="text-slate-400">Mean ± SD</dt>
        <dd>{typeof selected.meanIntensity === 'number' ? `${selected.meanIntensity.toFixed(0)} ± ${(selected.stdIntensity ?? 0).toFixed(0)} ${unit}` : 'not measured (no scan)'}</dd>
      </dl>
    </div>
  );
}


function Centered({ children }: { children: React.ReactNode }) {
  return <div className="absolute inset-0 flex items-center justify-center text-sm text-slate-400">{children}</div>;
}

/** TotalSegmentator's full `total` task, what the fallback engine stands in for. */
const FULL_MODEL_STRUCTURES = 117;

/** One sentence for a degraded result; the engine's operator note stays behind a disclosure. */
export function degradedSummary(engine: EngineInfo, structures?: number): string {
  const count = typeof structures === 'number' ? ` — ${structures} structure${structures === 1 ? '' : 's'} instead of ${FULL_MODEL_STRUCTURES}` : '';
  return `Approximate: the full TotalSegmentator model is not installed on this server, so the ${engine.name} fallback engine ran${count}.`;
}

/** What the engine says when an upload turned out to be a label map (the `labels` engine meshed it). */
export function labelMapSummary(structures: number): string {
  return `Label map detected: meshing its ${structures} structure${structures === 1 ? '' : 's'}.`;
}

/** Where the engine chose the task for the scan's modality (an MR scan sent with `total`). */
export function routingSummary(engine: EngineInfo): string | null {
  return engine.routedFrom && engine.task ? `${engine.modality ?? 'MR'} scan: using ${engine.task}` : null;
}

export function EngineBadge({ engine, format, structures }: { engine?: EngineInfo; format?: string; structures?: number }) {
  if (!engine) return null;
  return (
    <div className={`min-w-0 rounded border px-2 py-1.5 text-xs ${engine.degraded ? 'border-amber-600 bg-amber-950/40 text-amber-200' : 'border-slate-700 text-slate-300'}`} data-testid="engine-badge">
      {engine.degraded ? (
        <>
          <p data-testid="degraded-summary">{degradedSummary(engine, structures)}</p>
          <details className="mt-1">
            <summary className="cursor-pointer text-amber-300">Details</summary>
            <p className="mt-1 text-amber-100/80">
              Engine: {engine.name}
              {engine.version ? ` ${engine.version}` : ''}
              {engine.task ? ` · ${engine.task}` : ''}
              {format ? ` · ${format}` : ''}
            </p>
            {engine.note && <p className="mt-1 max-h-32 overflow-y-auto break-words text-amber-100/80">{engine.note}</p>}
          </details>
        </>
      ) : (
        <>
          {engine.name === 'labels' && typeof structures === 'number' && <p data-testid="label-map-summary">{labelMapSummary(structures)}</p>}
          {routingSummary(engine) && <p data-testid="task-routing">{routingSummary(engine)}</p>}
          <div>
            Engine: <strong className="font-semibold">{engine.name}</strong>
            {engine.version ? ` ${engine.version}` : ''}
            {engine.task ? ` · ${engine.task}` : ''}
            {format ? ` · ${format}` : ''}
          </div>
          {engine.note && <div className="mt-0.5 break-words text-slate-400">{engine.note}</div>}
        </>
      )}
    </div>
  );
}
