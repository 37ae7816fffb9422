import { useMemo, useState } from 'react';
import { SignIn } from './auth/SignIn';
import { useSession } from './auth/session';
import { JobsList } from './jobs/JobsList';
import { JobView } from './jobs/JobView';
import { useJobs } from './state/jobs';
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
  const shortcuts = useMemo(() => viewerShortcuts({ help: () => setHelp(true) }), []);
  useShortcuts(shortcuts);

  function signOut() {
    if (tokens) cognito.signOut(tokens.accessToken).catch(() => {}); // best effort: the local session ends regardless
    useJobs.getState().reset();
    setTokens(null);
  }

  return (
    <div className="flex h-screen flex-col">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-10 focus:rounded focus:bg-sky-700 focus:px-2 focus:py-1">
        Skip to the viewer
      </a>
      <header className="flex items-center justify-between border-b border-slate-800 px-4 py-2">
        <span className="text-sm font-semibold tracking-wide text-slate-50">IRIS Oculus</span>
        <div className="flex items-center gap-3 text-xs">
          <span className="text-slate-400" data-testid="user">{user}</span>
          <button type="button" className="btn-secondary" onClick={() => setHelp(true)} aria-keyshortcuts="?">
            Shortcuts (?)
          </button>
          <button type="button" className="btn-secondary" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <div className="flex min-h-0 flex-1">
        <nav className="flex w-80 shrink-0 flex-col gap-4 overflow-hidden border-r border-slate-800 p-3" aria-label="Upload and jobs">
          <UploadPanel />
          <JobsList />
        </nav>
        <main id="main" className="min-w-0 flex-1 p-3" tabIndex={-1}>
          {selected ? <JobView job={selected} /> : <p className="mt-10 text-center text-sm text-slate-400">Select a job, or upload a scan to start.</p>}
        </main>
      </div>
      <HelpDialog open={help} onClose={() => setHelp(false)} shortcuts={shortcuts} />
    </div>
  );
}
