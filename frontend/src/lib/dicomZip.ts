// A DICOM folder chosen in the browser is zipped client-side so it uploads as one object.
import { zipSync, type Zippable } from 'fflate';

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
