import { useMemo, useState } from 'react';
import { SignIn } from './auth/SignIn';
import { useSession } from './auth/session';
import { JobsList } from './jobs/JobsList';
import { JobView } from './jobs/JobView';
import { useJobs } from './state/jobs';
import { useLayout, type PanelTab } from './state/layout';
import { useJobRoute } from './state/route';
import { useServices } from './state/services';
import { HelpDialog } from './ui/HelpDialog';
import { useShortcuts, viewerShortcuts } from './ui/shortcuts';
import { UploadPanel } from './upload/UploadPanel';

export function App() {
  const tokens = useSession((s) => s.tokens);
  return tokens ? <Workspace /> : <SignIn />;
}

function Workspace() {
  const { cognito } = useServices();
  const user = useSession((s) => s.user);
  const tokens = useSession((s) => s.tokens);
  const setTokens = useSession((s) => s.setTokens);
  const selected = useJobs((s) => s.jobs.find((j) => j.jobId === s.selectedId));
  const [help, setHelp] = useState(false);
  const missing = useJobRoute();
  const tab = useLayout((s) => s.tab);
  const shortcuts = useMemo(() => viewerShortcuts({ help: () => setHelp(true) }), []);
  useShortcuts(shortcuts);

  function signOut() {
    if (tokens) cognito.signOut(tokens.accessToken).catch(() => {}); // best effort: the local session ends regardless
    useJobs.getState().reset();
    setTokens(null);
  }

  return (
    <div className="flex h-dvh flex-col">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-10 focus:rounded focus:bg-sky-700 focus:px-2 focus:py-1">
        Skip to the viewer
      </a>
      <header className="flex items-center justify-between border-b border-slate-800 px-4 py-2">
        <span className="text-sm font-semibold tracking-wide text-slate-50">IRIS Oculus</span>
        <div className="flex items-center gap-3 text-xs">
          <span className="hidden max-w-48 truncate text-slate-400 sm:inline" data-testid="user">{user}</span>
          <button type="button" className="btn-secondary hidden md:inline-block" onClick={() => setHelp(true)} aria-keyshortcuts="?">
            Shortcuts (?)
          </button>
          <button type="button" className="btn-secondary" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <div className="flex min-h-0 flex-1">
        {/* On a phone one panel shows at a time (the tab bar below); side by side from md up. */}
        <nav className={`${tab === 'jobs' ? 'flex' : 'hidden'} w-full shrink-0 flex-col gap-4 overflow-y-auto border-slate-800 p-3 md:flex md:w-80 md:overflow-hidden md:border-r`} aria-label="Upload and jobs">
          <UploadPanel />
          <JobsList />
        </nav>
        <main id="main" className={`${tab === 'jobs' ? 'hidden' : 'block'} min-w-0 flex-1 p-2 md:block md:p-3`} tabIndex={-1}>
          {selected ? (
            <JobView job={selected} />
          ) : (
            <p role={missing ? 'alert' : undefined} className="mt-10 text-center text-sm text-slate-400">
              {missing ?? 'Select a job, or upload a scan to start.'}
            </p>
          )}
        </main>
      </div>
      <PanelTabs segmentation={selected?.status === 'completed' && selected.task !== 'classify'} />
      <HelpDialog open={help} onClose={() => setHelp(false)} shortcuts={shortcuts} />
    </div>
  );
}

const TABS: [PanelTab, string][] = [
  ['jobs', 'Jobs'],
  ['viewer', 'Viewer'],
  ['structures', 'Structures'],
  ['slices', 'Slices'],
];

/** The phone's tab bar: which single panel fills the screen. */
function PanelTabs({ segmentation }: { segmentation: boolean }) {
  const tab = useLayout((s) => s.tab);
  const setTab = useLayout((s) => s.setTab);
  return (
    <div className="grid grid-cols-4 border-t border-slate-800 bg-slate-950 md:hidden" role="tablist" aria-label="Panels">
      {TABS.map(([id, label]) => (
        <button
          key={id}
          type="button"
          role="tab"
          aria-selected={tab === id}
          disabled={(id === 'structures' || id === 'slices') && !segmentation}
          onClick={() => setTab(id)}
          className={`py-3 text-xs font-medium disabled:opacity-40 ${tab === id ? 'border-t-2 border-sky-400 text-sky-300' : 'text-slate-400'}`}
        >
          {label}
        </button>
      ))}
    </div>
  );
}
