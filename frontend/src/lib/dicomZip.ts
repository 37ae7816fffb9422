// A DICOM folder chosen in the browser is zipped client-side so it uploads as one object,
// de-identified first unless the user turns that off (prepareDicomFolder).
import { zipSync, type Zippable } from 'fflate';
import { deidentifyDicom, isDicomPart10 } from './dicomZipDeidentify';

export interface FolderEntry {
  /** Path inside the folder, e.g. "series/IM0001.dcm". */
  path: string;
  file: Blob;
}

/** Entries from an <input webkitdirectory> FileList or a drop, keeping relative paths. */
export function entriesFromFiles(files: Iterable<File>): FolderEntry[] {
  return [...files]
    .filter((f) => !f.name.startsWith('.'))
    .map((f) => ({ path: (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name, file: f }));
}

/** Zip the entries (stored, not deflated: DICOM pixel data is often already compressed). */
export async function zipFolder(entries: FolderEntry[], name: string): Promise<File> {
  if (!entries.length) throw new Error('The folder is empty.');
  const tree: Zippable = {};
  for (const e of entries) tree[e.path] = [new Uint8Array(await e.file.arrayBuffer()), { level: 0 }];
  // Stored entries are a copy plus CRC, so the synchronous zipper is quick and needs no worker (CSP).
  const bytes = zipSync(tree, { level: 0 });
  return new File([bytes as BlobPart], name.endsWith('.zip') ? name : `${name}.zip`, { type: 'application/zip' });
}

export function folderName(entries: FolderEntry[]): string {
  const first = entries[0]?.path ?? 'dicom';
  return first.includes('/') ? first.split('/')[0] : 'dicom-series';
}

export interface PreparedFolder {
  file: File;
  /** Files whose pixels carry burned-in text (BurnedInAnnotation = YES): de-identification cannot clean them. */
  burnedIn: string[];
  /** Files left out because they are not DICOM (a README may name the patient). */
  skipped: string[];
}

/** The folder as the upload sends it: with ``deidentify`` (the default) every DICOM file is
 * de-identified in the browser (dicomZipDeidentify.ts) and anything else is left out. */
export async function prepareDicomFolder(entries: FolderEntry[], name: string, { deidentify = true } = {}): Promise<PreparedFolder> {
  if (!deidentify) return { file: await zipFolder(entries, name), burnedIn: [], skipped: [] };
  const kept: FolderEntry[] = [];
  const burnedIn: string[] = [];
  const skipped: string[] = [];
  for (const e of entries) {
    const bytes = new Uint8Array(await e.file.arrayBuffer());
    if (!isDicomPart10(bytes)) {
      skipped.push(e.path);
      continue;
    }
    const clean = deidentifyDicom(bytes);
    if (clean.burnedIn) burnedIn.push(e.path);
    // neutral names inside the zip too: folders are often named after the patient
    kept.push({ path: `series/${String(kept.length + 1).padStart(5, '0')}.dcm`, file: new Blob([clean.bytes as BlobPart]) });
  }
  if (!kept.length) throw new Error('The folder holds no DICOM files.');
  return { file: await zipFolder(kept, name), burnedIn, skipped };
}
