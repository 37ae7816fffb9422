// The segmentation choices the engine can honour: TotalSegmentator's task, fast mode and a
// structure subset where GET /capabilities says it is installed; one line saying the
// approximate engine runs where it is not.
import { useState } from 'react';
import type { Capabilities, TotalsegOptions, TotalSegmentatorTask, TotalsegTask } from '../api/types';

const TASK_LABELS: Record<string, string> = {
  total: 'total (CT; MR → total_mr)',
  total_mr: 'total_mr (MR)',
};

/** The offered tasks that have a model installed (normal or fast). */
export function runnableTasks(capabilities: Capabilities | null): TotalSegmentatorTask[] {
  const ts = capabilities?.totalsegmentator;
  return ts?.usable ? ts.tasks.filter((t) => t.weights || t.fastWeights) : [];
}

/**
 * What is sent for a segmentation: the options the user chose, narrowed to what the engine has.
 * Without TotalSegmentator no task, fast mode or subset is sent (the approximate engine ignores them).
 */
export function effectiveOptions(options: TotalsegOptions, capabilities: Capabilities | null): TotalsegOptions {
  const tasks = runnableTasks(capabilities);
  const rest = { ...options };
  delete rest.totalseg_task;
  if (!tasks.length) return { ...rest, fast: false, roi_subset: null };
  const task = tasks.find((t) => t.name === options.totalseg_task) ?? tasks[0];
  const fast = !task.weights ? true : !task.fastWeights ? false : options.fast;
  const subset = options.roi_subset?.filter((n) => task.structures.includes(n)) ?? [];
  return { ...rest, totalseg_task: task.name as TotalsegTask, fast, roi_subset: subset.length ? subset : null };
}

/** One sentence for the form when only the approximate engine runs. */
export function approximateEngineLine(capabilities: Capabilities): string {
  if (!capabilities.known) return 'Approximate engine assumed: the processing engine has not reported its models yet.';
  return 'Approximate engine: TotalSegmentator is not installed on this server, so a few structures are approximated.';
}

const pretty = (name: string) => name.replace(/_/g, ' ');

export function EngineOptions({ capabilities, options, onChange }: { capabilities: Capabilities | null; options: TotalsegOptions; onChange: (o: TotalsegOptions) => void }) {
  const [filter, setFilter] = useState('');
  if (!capabilities)
    return (
      <p className="text-slate-400" data-testid="engine-line">
        Checking which models this server runs…
      </p>
    );
  const tasks = runnableTasks(capabilities);
  if (!tasks.length)
    return (
      <p className="text-amber-300" data-testid="engine-line">
        {approximateEngineLine(capabilities)}
      </p>
    );

  const sent = effectiveOptions(options, capabilities);
  const task = tasks.find((t) => t.name === sent.totalseg_task)!;
  const chosen = new Set(sent.roi_subset ?? []);
  const shown = task.structures.filter((n) => pretty(n).includes(filter.toLowerCase().trim()));
  const toggle = (name: string, on: boolean) => {
    const next = on ? [...chosen, name] : [...chosen].filter((n) => n !== name);
    onChange({ ...options, totalseg_task: task.name as TotalsegTask, roi_subset: next.length ? next.sort() : null });
  };

  return (
    <div className="space-y-1.5" data-testid="totalseg-options">
      <label className="flex items-center gap-2">
        <span className="w-20 text-slate-400">Model</span>
        <select className="input py-0.5" value={task.name} aria-label="TotalSegmentator task" onChange={(e) => onChange({ ...options, totalseg_task: e.target.value as TotalsegTask, roi_subset: null })}>
          {tasks.map((t) => (
            <option key={t.name} value={t.name}>
              {TASK_LABELS[t.name] ?? t.name}
            </option>
          ))}
        </select>
      </label>
      <label className="flex items-center gap-2">
        <input type="checkbox" checked={sent.fast} disabled={!task.weights || !task.fastWeights} onChange={(e) => onChange({ ...options, fast: e.target.checked })} className="accent-sky-500" />
        Fast mode (3 mm, quicker, coarser){!task.weights ? ' — only the fast model is installed' : !task.fastWeights ? ' — not installed' : ''}
      </label>
      <details className="rounded border border-slate-800 px-2 py-1" data-testid="structure-subset">
        <summary className="cursor-pointer text-slate-300">Structures: {chosen.size ? `${chosen.size} of ${task.structures.length}` : `all ${task.structures.length}`}</summary>
        <div className="mt-1 flex items-center gap-2">
          <input type="search" className="input min-w-0 flex-1 py-0.5" placeholder="Filter" aria-label="Filter structures" value={filter} onChange={(e) => setFilter(e.target.value)} />
          {chosen.size > 0 && (
            <button type="button" className="btn-secondary py-0.5" onClick={() => onChange({ ...options, roi_subset: null })}>
              All
            </button>
          )}
        </div>
        <ul className="mt-1 max-h-36 overflow-y-auto" aria-label="Structures to segment">
          {shown.map((name) => (
            <li key={name}>
              <label className="flex items-center gap-2">
                <input type="checkbox" className="accent-sky-500" checked={chosen.has(name)} onChange={(e) => toggle(name, e.target.checked)} aria-label={`Segment ${pretty(name)}`} />
                {pretty(name)}
              </label>
            </li>
          ))}
        </ul>
      </details>
    </div>
  );
}
