// 3D/slice viewer state shared by the scene, the structure list and the slices.
import { create } from 'zustand';
import { defaultOpacity, type StructureInfo } from '../lib/anatomy';
import type { ClipAxis, StandardView } from '../lib/ras';

export interface ViewerState {
  structures: StructureInfo[];
  hidden: Record<string, boolean>;
  opacity: Record<string, number>;
  selected: string | null;
  search: string;
  clip: { enabled: boolean; axis: ClipAxis; position: number; flip: boolean };
  resetSignal: number;
  slicesOpen: boolean;
  toggleSlices: () => void;
  /** Fade every structure but the selected one. */
  dimOthers: boolean;
  toggleDimOthers: () => void;
  /** A standard view asked for (n counts requests, so asking twice re-applies it). */
  viewRequest: { view: StandardView; n: number } | null;
  requestView: (view: StandardView) => void;
  /** The slices' crosshair (RAS mm) while the slices are shown, drawn as planes in 3D. */
  sliceCursor: [number, number, number] | null;
  setSliceCursor: (mm: [number, number, number] | null) => void;
  /** Label-map overlay opacity on the slices. */
  overlayOpacity: number;
  setOverlayOpacity: (v: number) => void;
  screenshotSignal: number;
  load: (s: StructureInfo[]) => void;
  select: (name: string | null) => void;
  setSearch: (q: string) => void;
  toggle: (name: string) => void;
  setVisible: (names: string[], visible: boolean) => void;
  showAll: () => void;
  hideAll: () => void;
  isolate: (name: string) => void;
  setOpacity: (name: string, v: number) => void;
  setClip: (c: Partial<ViewerState['clip']>) => void;
  requestReset: () => void;
  requestScreenshot: () => void;
}

export const useViewer = create<ViewerState>((set, get) => ({
  structures: [],
  hidden: {},
  opacity: {},
  selected: null,
  search: '',
  clip: { enabled: false, axis: 'axial', position: 0.5, flip: false },
  resetSignal: 0,
  slicesOpen: false,
  toggleSlices: () => set((s) => ({ slicesOpen: !s.slicesOpen })),
  dimOthers: false,
  toggleDimOthers: () => set((s) => ({ dimOthers: !s.dimOthers })),
  viewRequest: null,
  requestView: (view) => set((s) => ({ viewRequest: { view, n: (s.viewRequest?.n ?? 0) + 1 } })),
  sliceCursor: null,
  setSliceCursor: (sliceCursor) => set({ sliceCursor }),
  overlayOpacity: 0.45,
  setOverlayOpacity: (v) => set({ overlayOpacity: Math.max(0, Math.min(1, v)) }),
  screenshotSignal: 0,
  load: (structures) =>
    set({
      structures,
      hidden: {},
      opacity: Object.fromEntries(structures.filter((s) => defaultOpacity(s) < 1).map((s) => [s.name, defaultOpacity(s)])),
      selected: null,
      search: '',
    }),
  select: (selected) => set({ selected }),
  setSearch: (search) => set({ search }),
  toggle: (name) => set((s) => ({ hidden: { ...s.hidden, [name]: !s.hidden[name] } })),
  setVisible: (names, visible) =>
    set((s) => {
      const hidden = { ...s.hidden };
      for (const n of names) hidden[n] = !visible;
      return { hidden };
    }),
  showAll: () => set({ hidden: {} }),
  hideAll: () => set({ hidden: Object.fromEntries(get().structures.map((s) => [s.name, true])) }),
  isolate: (name) =>
    set({ hidden: Object.fromEntries(get().structures.map((s) => [s.name, s.name !== name])), selected: name }),
  setOpacity: (name, v) => set((s) => ({ opacity: { ...s.opacity, [name]: Math.max(0, Math.min(1, v)) } })),
  setClip: (c) => set((s) => ({ clip: { ...s.clip, ...c } })),
  requestReset: () => set((s) => ({ resetSignal: s.resetSignal + 1 })),
  requestScreenshot: () => set((s) => ({ screenshotSignal: s.screenshotSignal + 1 })),
}));
