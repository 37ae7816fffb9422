// Small screens show one panel at a time (jobs, 3D view, structures, slices) behind a tab bar.
import { useSyncExternalStore } from 'react';
import { create } from 'zustand';

export type PanelTab = 'jobs' | 'viewer' | 'structures' | 'slices';

export const useLayout = create<{ tab: PanelTab; setTab: (t: PanelTab) => void }>((set) => ({
  tab: 'jobs',
  setTab: (tab) => set({ tab }),
}));

/** Below Tailwind's `md` breakpoint the app shows one panel at a time. */
export const NARROW_QUERY = '(max-width: 767px)';

function subscribe(onChange: () => void) {
  if (typeof window.matchMedia !== 'function') return () => {};
  const mq = window.matchMedia(NARROW_QUERY);
  mq.addEventListener('change', onChange);
  return () => mq.removeEventListener('change', onChange);
}

export function useNarrow(): boolean {
  return useSyncExternalStore(subscribe, () => typeof window.matchMedia === 'function' && window.matchMedia(NARROW_QUERY).matches);
}
