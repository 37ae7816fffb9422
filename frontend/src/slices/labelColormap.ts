import type { StructureInfo } from '../lib/anatomy';

/** NiiVue label colour table from the structures' colours (label 0 and hidden structures transparent). */
export function labelColormap(structures: StructureInfo[], hidden: Record<string, boolean> = {}) {
  const cm = { R: [0], G: [0], B: [0], A: [0], I: [0], labels: ['background'] };
  for (const s of [...structures].filter((s) => s.label > 0).sort((a, b) => a.label - b.label)) {
    const hex = s.color.replace('#', '');
    cm.R.push(parseInt(hex.slice(0, 2), 16));
    cm.G.push(parseInt(hex.slice(2, 4), 16));
    cm.B.push(parseInt(hex.slice(4, 6), 16));
    cm.A.push(hidden[s.name] ? 0 : 255);
    cm.I.push(s.label);
    cm.labels.push(s.name);
  }
  return cm;
}

/** The scan to show under the label map: an input NIfTI (DICOM cannot be shown here). */
export function scanFileOf(files: string[], inputName?: string): string | null {
  for (const n of ['scan.nii.gz', 'input.nii.gz', 'image.nii.gz']) if (files.includes(n)) return n;
  if (inputName && /\.nii(\.gz)?$/i.test(inputName)) return inputName;
  return null;
}
