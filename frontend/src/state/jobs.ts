// The signed-in user's jobs, newest first, kept fresh by polling while anything is in flight.
import { create } from 'zustand';
import type { ApiClient } from '../api/client';
import { isTerminal, type Job } from '../api/types';

export const PAGE_SIZE = 20;
/** While the selected job runs, the whole list is fetched at most this often (its own view each poll). */
export const LIST_WHILE_WATCHING_MS = 2000;

export interface JobsState {
  jobs: Job[];
  nextCursor: string | null;
  loading: boolean;
  error: string | null;
  selectedId: string | null;
  /** When the first page was last requested (ms since the epoch; 0: never). */
  listedAt: number;
  /** Object URLs of images uploaded in this tab, to show beside their classification. */
  localImages: Record<string, string>;
  select: (id: string | null) => void;
  upsert: (job: Job) => void;
  remove: (id: string) => void;
  refresh: (api: ApiClient) => Promise<void>;
  loadMore: (api: ApiClient) => Promise<void>;
  rememberImage: (id: string, url: string) => void;
  reset: () => void;
}

const byNewest = (a: Job, b: Job) => (b.createdAt ?? '').localeCompare(a.createdAt ?? '');

export const useJobs = create<JobsState>((set, get) => ({
  jobs: [],
  nextCursor: null,
  loading: false,
  error: null,
  selectedId: null,
  listedAt: 0,
  localImages: {},
  select: (selectedId) => set({ selectedId }),
  upsert: (job) =>
    set((s) => {
      const rest = s.jobs.filter((j) => j.jobId !== job.jobId);
      const prev = s.jobs.find((j) => j.jobId === job.jobId);
      return { jobs: [...rest, { ...prev, ...job }].sort(byNewest) };
    }),
  remove: (id) => set((s) => ({ jobs: s.jobs.filter((j) => j.jobId !== id), selectedId: s.selectedId === id ? null : s.selectedId })),
  refresh: async (api) => {
    set({ loading: true });
    try {
      // Refresh the first page; keep older pages already loaded (their jobs rarely change).
      // The list holds what is stored; the selected running job is also fetched on its own,
      // which adds the engine's live stage and the files it has published so far (the 3D scene).
      // While that job is watched, the list is fetched only every LIST_WHILE_WATCHING_MS: on a
      // laptop running everything, each list request took CPU from the engine meshing that job.
      const { jobs: before, selectedId, listedAt } = get();
      const running = before.find((j) => j.jobId === selectedId && !isTerminal(j.status));
      if (running && Date.now() - listedAt < LIST_WHILE_WATCHING_MS) {
        const detail = await api.getJob(running.jobId).catch(() => null);
        if (!detail || !isTerminal(detail.status)) {
          set((s) => ({
            jobs: detail ? s.jobs.map((j) => (j.jobId === detail.jobId ? withLiveView(j, detail, j) : j)) : s.jobs,
            error: null,
            loading: false,
          }));
          return;
        }
        // the job has ended: the list says so as stored, with everything else that changed
      }
      const listStarted = Date.now();
      const [page, detail] = await Promise.all([api.listJobs({ limit: PAGE_SIZE }), running ? api.getJob(running.jobId).catch(() => null) : null]);
      set((s) => {
        const fresh = new Map(page.jobs.map((j) => [j.jobId, j]));
        const oldest = page.jobs.at(-1)?.createdAt ?? '';
        const kept = s.jobs.filter((j) => !fresh.has(j.jobId) && page.nextCursor !== null && (j.createdAt ?? '') < oldest);
        const listed = page.jobs.map((j) => (detail && j.jobId === detail.jobId ? withLiveView(j, detail, s.jobs.find((x) => x.jobId === j.jobId)) : j));
        return {
          jobs: [...listed, ...kept].filter((j) => j.status !== 'deleted').sort(byNewest),
          nextCursor: kept.length ? s.nextCursor : page.nextCursor,
          listedAt: listStarted,
          error: null,
          loading: false,
        };
      });
    } catch (e) {
      set({ error: (e as Error).message, loading: false });
    }
  },
  loadMore: async (api) => {
    const cursor = get().nextCursor;
    if (!cursor) return;
    set({ loading: true });
    try {
      const page = await api.listJobs({ limit: PAGE_SIZE, cursor });
      set((s) => {
        const seen = new Set(s.jobs.map((j) => j.jobId));
        return { jobs: [...s.jobs, ...page.jobs.filter((j) => !seen.has(j.jobId))].sort(byNewest), nextCursor: page.nextCursor, loading: false, error: null };
      });
    } catch (e) {
      set({ error: (e as Error).message, loading: false });
    }
  },
  rememberImage: (id, url) => set((s) => ({ localImages: { ...s.localImages, [id]: url } })),
  reset: () => set({ jobs: [], nextCursor: null, selectedId: null, listedAt: 0, error: null }),
}));

/**
 * A running job as the list has it, updated from its own view: the engine's stage and the files
 * published so far (kept once seen, so the 3D scene never flickers away). A list entry that has
 * moved on (completed, failed) wins.
 */
export function withLiveView(listed: Job, detail: Job, previous?: Job): Job {
  if (isTerminal(listed.status)) return listed;
  if (isTerminal(detail.status)) return detail;
  const files = detail.files?.length ? detail.files : previous?.files;
  return { ...listed, ...detail, files };
}

/** A running volume job whose 3D scene the engine has already published (the rest follows). */
export function sceneReady(job: Job): boolean {
  return job.task !== 'classify' && job.status === 'processing' && (job.files ?? []).some((f) => f.name === 'scene.glb');
}

export function anyActive(jobs: Job[]): boolean {
  return jobs.some((j) => !isTerminal(j.status));
}

export const POLL_MS = { finishing: 250, first: 500, most: 5000, settled: 20000 };

/** A volume job meshes from 60 % and publishes its 3D scene at 88 %, then writes the rest. */
export const MESHING_PERCENT = 60;
export const FINISHING_PERCENT = 85;

/**
 * Poll delay: slow when everything is settled; while a job moves, every 0.5 s at first (a
 * small scan on a warm engine is done in seconds, and each poll's delay is added to the time
 * until the result shows), backing off to 5 s for jobs that take minutes: a thirtieth of how
 * long jobs have been in flight. Every 0.25 s while a job writes its results (85 % and up), and
 * while a job of under half a minute meshes (its 3D scene is then a second or two away), so
 * the scene and the job's end are seen at once.
 */
export function pollDelay(jobs: Job[], activeForMs = 0): number {
  if (!anyActive(jobs)) return POLL_MS.settled;
  const furthest = Math.max(...jobs.filter((j) => !isTerminal(j.status)).map((j) => j.progress ?? 0));
  if (furthest >= FINISHING_PERCENT || (furthest >= MESHING_PERCENT && activeForMs < 30_000)) return POLL_MS.finishing;
  return Math.round(Math.min(POLL_MS.most, Math.max(POLL_MS.first, activeForMs / 30)));
}
