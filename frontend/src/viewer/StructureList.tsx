// Structures grouped by system, with search, visibility, opacity, isolate and selection.
import { useEffect, useMemo, useRef } from 'react';
import { displayName, groupBySystem, matchesSearch, type StructureInfo } from '../lib/anatomy';
import { formatMl } from '../lib/format';
import { useViewer } from '../state/viewer';

export function StructureList() {
  const structures = useViewer((s) => s.structures);
  const search = useViewer((s) => s.search);
  const setSearch = useViewer((s) => s.setSearch);
  const hidden = useViewer((s) => s.hidden);
  const showAll = useViewer((s) => s.showAll);
  const hideAll = useViewer((s) => s.hideAll);
  const setVisible = useViewer((s) => s.setVisible);
  const groups = useMemo(() => groupBySystem(structures.filter((s) => matchesSearch(s, search))), [structures, search]);
  const shown = structures.filter((s) => !hidden[s.name]).length;

  return (
    <section aria-labelledby="structures-heading" className="flex min-h-0 flex-col gap-2">
      <div className="flex items-baseline justify-between">
        <h2 id="structures-heading" className="text-sm font-semibold text-slate-100">
          Structures
        </h2>
        <span className="text-xs text-slate-400" aria-live="polite">
          {shown} of {structures.length} shown
        </span>
      </div>
      <label className="sr-only" htmlFor="structure-search">
        Search structures
      </label>
      <input
        id="structure-search"
        type="search"
        placeholder="Search structures (/)"
        value={search}
        onChange={(e) => setSearch(e.target.value)}
        className="input"
      />
      <div className="flex gap-2">
        <button type="button" className="btn-secondary flex-1" onClick={showAll}>
          Show all
        </button>
        <button type="button" className="btn-secondary flex-1" onClick={hideAll}>
          Hide all
        </button>
      </div>
      <div className="min-h-0 flex-1 overflow-y-auto pr-1" role="list" aria-label="Structures by system">
        {groups.length === 0 && <p className="py-4 text-center text-xs text-slate-400">No structure matches “{search}”.</p>}
        {groups.map(([system, items]) => {
          const allVisible = items.every((s) => !hidden[s.name]);
          return (
            <details key={system} open role="listitem" className="mb-1">
              <summary className="flex cursor-pointer items-center justify-between py-1 text-xs font-semibold uppercase tracking-wide text-slate-400">
                <span>
                  {system} <span className="font-normal normal-case">({items.length})</span>
                </span>
                <button
                  type="button"
                  className="link text-[11px] normal-case"
                  onClick={(e) => (e.preventDefault(), setVisible(items.map((s) => s.name), !allVisible))}
                  aria-label={`${allVisible ? 'Hide' : 'Show'} all ${system}`}
                >
                  {allVisible ? 'hide' : 'show'}
                </button>
              </summary>
              <ul className="space-y-px">
                {items.map((s) => (
                  <StructureRow key={s.name} s={s} />
                ))}
              </ul>
            </details>
          );
        })}
      </div>
    </section>
  );
}

function StructureRow({ s }: { s: StructureInfo }) {
  const visible = useViewer((st) => !st.hidden[s.name]);
  const selected = useViewer((st) => st.selected === s.name);
  const opacity = useViewer((st) => st.opacity[s.name] ?? 1);
  const { toggle, select, setOpacity, isolate } = useViewer.getState();
  const ref = useRef<HTMLLIElement>(null);
  const label = displayName(s.name);

  useEffect(() => {
    if (selected) ref.current?.scrollIntoView?.({ block: 'nearest' });
  }, [selected]);

  return (
    <li ref={ref} className={`rounded ${selected ? 'bg-sky-900/50 ring-1 ring-sky-500' : 'hover:bg-slate-800/60'}`} data-structure={s.name} aria-current={selected || undefined}>
      <div className="flex items-center gap-2 px-1 py-0.5 text-sm">
        <input type="checkbox" checked={visible} onChange={() => toggle(s.name)} aria-label={`Show ${label}`} className="accent-sky-500" />
        <span className="inline-block h-3 w-3 shrink-0 rounded-sm border border-black/40" style={{ backgroundColor: s.color }} aria-hidden="true" />
        <button type="button" className={`flex-1 truncate text-left ${visible ? '' : 'text-slate-500'}`} onClick={() => select(selected ? null : s.name)} aria-pressed={selected} title={label}>
          {label}
        </button>
        <span className="shrink-0 text-xs tabular-nums text-slate-400">{formatMl(s.volumeMl)}</span>
      </div>
      {selected && (
        <div className="flex items-center gap-2 px-6 pb-1.5 text-xs">
          <label htmlFor={`opacity-${s.name}`} className="text-slate-400">
            Opacity
          </label>
          <input
            id={`opacity-${s.name}`}
            type="range"
            min={0}
            max={1}
            step={0.05}
            value={opacity}
            onChange={(e) => setOpacity(s.name, Number(e.target.value))}
            className="flex-1 accent-sky-500"
          />
          <button type="button" className="btn-secondary px-2 py-0.5" onClick={() => isolate(s.name)}>
            Isolate
          </button>
        </div>
      )}
    </li>
  );
}
