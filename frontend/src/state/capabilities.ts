// What the segmentation engine can run (GET /capabilities), asked once per session.
import { create } from 'zustand';
import type { ApiClient } from '../api/client';
import type { Capabilities } from '../api/types';

export interface CapabilitiesState {
  /** null until answered; an API that cannot say counts as "only the approximate engine". */
  capabilities: Capabilities | null;
  load: (api: ApiClient) => Promise<void>;
  reset: () => void;
}

export const UNKNOWN_CAPABILITIES: Capabilities = {
  known: false,
  publishedAt: null,
  engineVersion: null,
  default: 'threshold',
  totalsegmentator: { installed: false, usable: false, version: null, tasks: [] },
};

let pending: Promise<void> | null = null;

export const useCapabilities = create<CapabilitiesState>((set, get) => ({
  capabilities: null,
  load: (api) => {
    if (get().capabilities) return Promise.resolve();
    pending ??= api
      .capabilities()
      .then((capabilities) => set({ capabilities }))
      .catch(() => set({ capabilities: UNKNOWN_CAPABILITIES }))
      .finally(() => (pending = null));
    return pending;
  },
  reset: () => set({ capabilities: null }),
}));
