// Structure metadata for the list: system grouping, colours, display names.
import type { ReportStructure } from '../api/types';

export interface StructureInfo {
  name: string;
  label: number;
  system: string;
  volumeMl: number | null;
  /** CSS hex colour, sRGB. */
  color: string;
  centroid: [number, number, number] | null;
  /** Mean and standard deviation of the scan inside the structure (HU for CT), when the report has them. */
  meanIntensity?: number | null;
  stdIntensity?: number | null;
}

// The engine's system groups (oculus/colors.py SYSTEMS), in its order; 'organs' and
// 'cardiovascular' are this app's own fallbacks for reports without a system.
export const SYSTEM_ORDER = ['organs', 'heart', 'cardiovascular', 'vessels', 'lungs_airways', 'digestive', 'urinary', 'endocrine', 'nervous', 'reproductive', 'bones', 'muscles', 'body', 'tissues', 'findings', 'implants', 'other'];

/** Whole-body surfaces enclose everything else: start them see-through. */
export function defaultOpacity(s: Pick<StructureInfo, 'system' | 'name'>): number {
  return s.system === 'body' || /^(body|skin)/.test(s.name) ? 0.25 : 1;
}

const RULES: [RegExp, string][] = [
  [/vertebra|rib_|^rib|sacrum|femur|hip|humerus|scapula|clavicula|sternum|skull|costal|patella|tibia|fibula/, 'bones'],
  [/gluteus|iliopsoas|autochthon|muscle|psoas/, 'muscles'],
  [/heart|atrial|ventricle|myocardium|atrium/, 'cardiovascular'],
  [/aorta|vena|artery|vein|portal|trunk|iliac_a|iliac_v|brachiocephalic|carotid|subclavian|pulmonary_vein/, 'vessels'],
];

/** System from report.json when present, else from the TotalSegmentator class name. */
export function systemOf(s: Pick<ReportStructure, 'name' | 'system'>): string {
  if (s.system) return s.system.toLowerCase();
  const n = s.name.toLowerCase();
  for (const [re, sys] of RULES) if (re.test(n)) return sys;
  return 'organs';
}

export function colorToHex(c: ReportStructure['color']): string {
  if (c && typeof c === 'object' && !Array.isArray(c)) return c.hex ? colorToHex(c.hex) : colorToHex(c.rgb);
  if (typeof c === 'string') return c.startsWith('#') ? c : `#${c}`;
  if (Array.isArray(c) && c.length >= 3) {
    const scale = c.every((v) => v <= 1) && c.some((v) => v > 0 && v < 1) ? 255 : 1;
    return '#' + c.slice(0, 3).map((v) => Math.round(v * scale).toString(16).padStart(2, '0')).join('');
  }
  return '#b0b0b0';
}

export function displayName(name: string): string {
  return name.replace(/_/g, ' ');
}

export function structuresFromReport(structures: ReportStructure[]): StructureInfo[] {
  return structures.map((s) => ({
    name: s.name,
    label: s.label,
    system: systemOf(s),
    volumeMl: typeof s.volumeMl === 'number' ? s.volumeMl : null,
    color: colorToHex(s.color),
    centroid: Array.isArray(s.centroidMm) && s.centroidMm.length >= 3 ? [s.centroidMm[0], s.centroidMm[1], s.centroidMm[2]] : null,
    meanIntensity: typeof s.meanIntensity === 'number' ? s.meanIntensity : null,
    stdIntensity: typeof s.stdIntensity === 'number' ? s.stdIntensity : null,
  }));
}

export function groupBySystem(items: StructureInfo[]): [string, StructureInfo[]][] {
  const groups = new Map<string, StructureInfo[]>();
  for (const s of items) groups.set(s.system, [...(groups.get(s.system) ?? []), s]);
  const rank = (k: string) => (SYSTEM_ORDER.indexOf(k) < 0 ? SYSTEM_ORDER.length : SYSTEM_ORDER.indexOf(k));
  return [...groups.entries()]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([k, v]) => [k, [...v].sort((x, y) => x.name.localeCompare(y.name))]);
}

export function matchesSearch(s: StructureInfo, q: string): boolean {
  const t = q.trim().toLowerCase();
  return !t || s.name.toLowerCase().includes(t) || displayName(s.name).toLowerCase().includes(t) || s.system.includes(t);
}
