// A completed segmentation: 3D scene, structure list, tools, downloads and (on demand) slices.
import { lazy, Suspense, useEffect, useState } from 'react';
import type { ApiClient } from '../api/client';
import type { EngineInfo, Job, SceneReport } from '../api/types';
import { structuresFromReport } from '../lib/anatomy';
import { useServices } from '../state/services';
import { useViewer } from '../state/viewer';
import type { LoadedScene } from './loadScene';
import { Downloads } from './Downloads';
import { StructureList } from './StructureList';
import { ViewerToolbar } from './ViewerToolbar';

const Scene3D = lazy(() => import('./Scene3D'));
const SliceViewer = lazy(() => import('../slices/SliceViewer'));

type LoadState = { status: 'loading' } | { status: 'error'; message: string } | { status: 'ready'; scene: LoadedScene; report: SceneReport | null; format: string };

export async function loadSegmentation(api: ApiClient, job: Job, signal?: AbortSignal) {
  const names = new Set((job.files ?? []).map((f) => f.name));
  const has = (n: string) => names.size === 0 || names.has(n);
  const reportP = has('report.json') ? api.fileJson<SceneReport>(job.jobId, 'report.json', signal).catch(() => null) : Promise.resolve(null);
  const { parseGlb, parseObj, prepareScene } = await import('./loadScene');
  let object;
  let format = 'GLB';
  if (has('scene.glb')) {
    object = await parseGlb(await (await api.fileBlob(job.jobId, 'scene.glb', signal)).arrayBuffer());
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
  const [state, setState] = useState<LoadState>({ status: 'loading' });
  const slicesOpen = useViewer((s) => s.slicesOpen);
  const load = useViewer((s) => s.load);

  useEffect(() => {
    const ctrl = new AbortController();
    performance.mark('oculus:open-job');
    setState({ status: 'loading' });
    loadSegmentation(api, job, ctrl.signal)
      .then(({ scene, report, format }) => {
        const fromReport = report?.structures ? structuresFromReport(report.structures) : [];
        const known = new Set(fromReport.map((s) => s.name));
        // Meshes the report does not describe still get a row (grey, no volume).
        const extra = [...scene.meshes.keys()].filter((n) => !known.has(n)).map((n, i) => ({ name: n, label: -1 - i, system: 'other', volumeMl: null, color: '#' + (scene.meshes.get(n)![0].material as unknown as { color: { getHexString(): string } }).color.getHexString(), centroid: null }));
        load([...fromReport.filter((s) => scene.meshes.has(s.name)), ...extra]);
        setState({ status: 'ready', scene, report, format });
      })
      .catch((e) => {
        if ((e as Error).name !== 'AbortError') setState({ status: 'error', message: (e as Error).message });
      });
    return () => ctrl.abort();
  }, [api, job.jobId]); // eslint-disable-line react-hooks/exhaustive-deps

  const engine = job.engine ?? job.result?.engine ?? (state.status === 'ready' ? state.report?.engine : undefined);

  return (
    <div className="flex h-full min-h-0 gap-3">
      <aside className="flex w-72 shrink-0 flex-col gap-3 overflow-hidden" aria-label="Structures and downloads">
        <EngineBadge engine={engine ?? undefined} format={state.status === 'ready' ? state.format : undefined} />
        <div className="flex min-h-0 flex-1 flex-col">
          <StructureList />
        </div>
        <Downloads job={job} />
      </aside>
      <section className="flex min-w-0 flex-1 flex-col gap-2" aria-label="Viewer">
        <ViewerToolbar />
        <div className="flex min-h-0 flex-1 gap-2">
          <div className="relative min-w-0 flex-1 overflow-hidden rounded border border-slate-800" data-testid="scene-container">
            {state.status === 'loading' && <Centered>Loading 3D scene…</Centered>}
            {state.status === 'error' && (
              <Centered>
                <span role="alert" className="text-red-400">
                  The 3D scene could not be loaded: {state.message}
                </span>
              </Centered>
            )}
            {state.status === 'ready' && (
              <Suspense fallback={<Centered>Starting the 3D viewer…</Centered>}>
                <Scene3D scene={state.scene} screenshotName={`oculus-${job.jobId}.png`} />
              </Suspense>
            )}
          </div>
          {slicesOpen && (
            <div className="w-[42%] min-w-64 overflow-hidden rounded border border-slate-800" data-testid="slices-container">
              <Suspense fallback={<Centered>Loading the slice viewer…</Centered>}>
                <SliceViewer job={job} />
              </Suspense>
            </div>
          )}
        </div>
      </section>
    </div>
  );
}

function Centered({ children }: { children: React.ReactNode }) {
  return <div className="absolute inset-0 flex items-center justify-center text-sm text-slate-400">{children}</div>;
}

export function EngineBadge({ engine, format }: { engine?: EngineInfo; format?: string }) {
  if (!engine) return null;
  return (
    <div className={`rounded border px-2 py-1.5 text-xs ${engine.degraded ? 'border-amber-600 bg-amber-950/40 text-amber-200' : 'border-slate-700 text-slate-300'}`} data-testid="engine-badge">
      <div>
        Engine: <strong className="font-semibold">{engine.name}</strong>
        {engine.version ? ` ${engine.version}` : ''}
        {engine.task ? ` · ${engine.task}` : ''}
        {format ? ` · ${format}` : ''}
      </div>
      {engine.degraded && <div className="mt-0.5">Fallback engine: results are approximate. {engine.note}</div>}
      {!engine.degraded && engine.note && <div className="mt-0.5 text-slate-400">{engine.note}</div>}
    </div>
  );
}
