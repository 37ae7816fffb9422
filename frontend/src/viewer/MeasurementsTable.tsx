// report.json's per-structure measurements as a sortable table (the same numbers as report.csv).
import { useState } from 'react';
import type { ReportStructure } from '../api/types';
import { displayName } from '../lib/anatomy';

type Key = 'name' | 'volumeMl' | 'surfaceAreaMm2' | 'meanIntensity' | 'stdIntensity' | 'medianIntensity' | 'p5Intensity' | 'p95Intensity' | 'minIntensity' | 'maxIntensity' | 'touchesBorder';
export type SortOrder = { key: Key; descending: boolean };

interface Column {
  key: Key;
  label: string;
  /** Decimals shown; none for text and flags. */
  digits?: number;
}

const COLUMNS: Column[] = [
  { key: 'name', label: 'Structure' },
  { key: 'volumeMl', label: 'Volume (mL)', digits: 2 },
  { key: 'surfaceAreaMm2', label: 'Surface (cm²)', digits: 1 },
  { key: 'meanIntensity', label: 'Mean', digits: 1 },
  { key: 'stdIntensity', label: 'SD', digits: 1 },
  { key: 'medianIntensity', label: 'Median', digits: 1 },
  { key: 'p5Intensity', label: 'P5', digits: 1 },
  { key: 'p95Intensity', label: 'P95', digits: 1 },
  { key: 'minIntensity', label: 'Min', digits: 0 },
  { key: 'maxIntensity', label: 'Max', digits: 0 },
  { key: 'touchesBorder', label: 'Scan edge' },
];

const BORDER_HINT = "Touches the scan's edge: the structure is probably cut off, so its volume is a lower bound.";

function value(s: ReportStructure, key: Key): string | number | null {
  const v = key === 'name' ? displayName(s.name) : key === 'surfaceAreaMm2' && typeof s.surfaceAreaMm2 === 'number' ? s.surfaceAreaMm2 / 100 : s[key];
  if (typeof v === 'boolean') return v ? 1 : 0;
  return typeof v === 'number' || typeof v === 'string' ? v : null;
}

/** Sorted copy; structures without the value (e.g. no scan, no intensities) go last either way. */
export function sortStructures(structures: ReportStructure[], { key, descending }: SortOrder): ReportStructure[] {
  return [...structures].sort((a, b) => {
    const x = value(a, key);
    const y = value(b, key);
    if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
    const order = typeof x === 'string' || typeof y === 'string' ? String(x).localeCompare(String(y)) : x - y;
    return descending ? -order : order;
  });
}

export function MeasurementsTable({ structures, intensityUnit, onSelect }: { structures: ReportStructure[]; intensityUnit: string | null; onSelect?: (name: string) => void }) {
  const [order, setOrder] = useState<SortOrder>({ key: 'volumeMl', descending: true });
  const unit = intensityUnit && !intensityUnit.includes('|') ? intensityUnit : null;
  const rows = sortStructures(structures, order);
  const cut = structures.filter((s) => s.touchesBorder).length;

  function sortBy(key: Key) {
    // a new column starts with the largest values (names A-Z); the same column flips
    setOrder((o) => (o.key === key ? { key, descending: !o.descending } : { key, descending: key !== 'name' }));
  }

  return (
    <div className="space-y-1 text-xs text-slate-200">
      <p className="text-slate-400">
        {structures.some((s) => typeof s.meanIntensity === 'number') ? `Intensities in ${unit ?? 'scanner units'}.` : 'Intensities not measured: the label map came without its scan.'}
        {cut > 0 && ` ${cut} structure${cut === 1 ? '' : 's'} touch${cut === 1 ? 'es' : ''} the scan's edge (⚠): their volumes are lower bounds.`}
      </p>
      <table className="w-full border-collapse tabular-nums" aria-label="Measurements per structure">
        <thead>
          <tr>
            {COLUMNS.map((c) => (
              <th key={c.key} scope="col" aria-sort={order.key === c.key ? (order.descending ? 'descending' : 'ascending') : 'none'} className={`sticky top-0 bg-slate-900 px-1.5 py-1 font-semibold ${c.key === 'name' ? 'text-left' : 'text-right'}`}>
                <button type="button" className="hover:text-sky-300" onClick={() => sortBy(c.key)}>
                  {c.label}
                  {order.key === c.key ? (order.descending ? ' ▼' : ' ▲') : ''}
                </button>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((s) => (
            <tr key={s.label} className="border-t border-slate-800 hover:bg-slate-800/60" data-testid="measurement-row">
              {COLUMNS.map((c) => (
                <Cell key={c.key} structure={s} column={c} onSelect={onSelect} />
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Cell({ structure, column, onSelect }: { structure: ReportStructure; column: Column; onSelect?: (name: string) => void }) {
  if (column.key === 'name') {
    return (
      <th scope="row" className="px-1.5 py-0.5 text-left font-normal">
        {onSelect ? (
          <button type="button" className="text-left hover:text-sky-300" onClick={() => onSelect(structure.name)}>
            {displayName(structure.name)}
          </button>
        ) : (
          displayName(structure.name)
        )}
      </th>
    );
  }
  if (column.key === 'touchesBorder') {
    return (
      <td className="px-1.5 py-0.5 text-right">
        {structure.touchesBorder ? (
          <span className="text-amber-300" title={BORDER_HINT} aria-label={BORDER_HINT}>
            ⚠ cut
          </span>
        ) : structure.touchesBorder === false ? (
          <span className="text-slate-500">no</span>
        ) : (
          '—'
        )}
      </td>
    );
  }
  const v = value(structure, column.key);
  return <td className="px-1.5 py-0.5 text-right">{typeof v === 'number' ? v.toFixed(column.digits) : '—'}</td>;
}
