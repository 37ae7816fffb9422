import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { strFromU8, unzipSync } from 'fflate';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareDicomFolder } from './dicomZip';
import { DicomDeidentifyError, deidentifyDicom } from './dicomZipDeidentify';

// Real files from the shared test data (../shared/data), read back with pydicom: the output
// must be a valid DICOM file whose identity is gone and whose UIDs, geometry and pixels are not.
const REPO = resolve(__dirname, '../../..');
const CT = resolve(REPO, '../shared/data/ct');
const PYTHON = join(REPO, '.venv/bin/python');
const SMALL = join(CT, 'pydicom_CT_small.dcm'); // explicit VR LE; PatientName CompressedSamples^CT1
const SERIES = join(CT, 'example_ct_dicom'); // JPEG 2000 (encapsulated pixels), sequences, private tags

const READ_BACK = `
import json, sys, hashlib, pydicom
out = []
for path in sys.argv[1:]:
    d = pydicom.dcmread(path)
    out.append({k: str(d.get(k, "")) for k in ("PatientName", "PatientID", "PatientBirthDate", "InstitutionName",
        "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "ImagePositionPatient", "PixelSpacing",
        "PatientIdentityRemoved", "DeidentificationMethod")}
        | {"private": sum(1 for e in d.iterall() if e.tag.is_private), "pixels": hashlib.md5(d.PixelData).hexdigest(),
           "names": sorted({str(e.value) for e in d.iterall() if e.VR == "PN" and e.value})})
print(json.dumps(out))
`;

function readBack(...paths: string[]): Record<string, unknown>[] {
  return JSON.parse(execFileSync(PYTHON, ['-c', READ_BACK, ...paths], { encoding: 'utf8' }));
}

const haveData = existsSync(SMALL) && existsSync(PYTHON);

// every folder a test writes is removed afterwards, passed or failed
const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'deid-'));
  tempDirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!haveData)('DICOM de-identification (PS3.15 Basic Profile, Retain UIDs)', () => {
  it('removes the identity, keeps UIDs, geometry and pixel data, and marks the file', () => {
    const source = new Uint8Array(readFileSync(SMALL));
    const out = deidentifyDicom(source);
    expect(out.burnedIn).toBe(false);
    const dir = tempDir();
    writeFileSync(join(dir, 'out.dcm'), out.bytes);
    const [before, after] = readBack(SMALL, join(dir, 'out.dcm'));
    expect(before.PatientName).toBe('CompressedSamples^CT1');
    expect(after).toMatchObject({ PatientName: '', PatientID: '', PatientBirthDate: '', InstitutionName: '', PatientIdentityRemoved: 'YES', names: [] });
    for (const kept of ['StudyInstanceUID', 'SeriesInstanceUID', 'SOPInstanceUID', 'ImagePositionPatient', 'PixelSpacing', 'pixels'])
      expect(after[kept]).toBe(before[kept]);
    expect(after.DeidentificationMethod).toContain('Retain UIDs');
    expect(Buffer.from(out.bytes).includes('CompressedSamples')).toBe(false);
  });

  it('rewrites a real series with encapsulated pixels, sequences and private tags', async () => {
    const names = readdirSync(SERIES).sort().slice(0, 3);
    const entries = names.map((n) => ({ path: `DOE^JANE/${n}`, file: new Blob([readFileSync(join(SERIES, n))]) }));
    entries.push({ path: 'DOE^JANE/README.txt', file: new Blob(['Jane Doe, born 1970']) });
    const prepared = await prepareDicomFolder(entries, 'DOE^JANE');
    expect(prepared.skipped).toEqual(['DOE^JANE/README.txt']);
    const files = unzipSync(new Uint8Array(await prepared.file.arrayBuffer()));
    expect(Object.keys(files).sort()).toEqual(['series/00001.dcm', 'series/00002.dcm', 'series/00003.dcm']);
    const dir = tempDir();
    const written = Object.entries(files).map(([name, bytes]) => {
      const path = join(dir, name.replace('/', '_'));
      writeFileSync(path, bytes);
      return path;
    });
    const before = readBack(...names.map((n) => join(SERIES, n)));
    const after = readBack(...written);
    expect(before[0].private).toBeGreaterThan(0);
    after.forEach((a, i) => {
      expect(a).toMatchObject({ PatientName: '', PatientID: '', private: 0, PatientIdentityRemoved: 'YES', names: [] });
      expect([a.SeriesInstanceUID, a.SOPInstanceUID, a.pixels]).toEqual([before[i].SeriesInstanceUID, before[i].SOPInstanceUID, before[i].pixels]);
    });
    expect(strFromU8(files['series/00001.dcm'].subarray(128, 132))).toBe('DICM');
  });

  it('reports burned-in annotation and refuses what it cannot read', () => {
    const source = new Uint8Array(readFileSync(SMALL));
    // (0028,0301) BurnedInAnnotation CS "YES " appended: the parser reads any element order
    const flag = new Uint8Array([0x28, 0x00, 0x01, 0x03, 0x43, 0x53, 0x04, 0x00, 0x59, 0x45, 0x53, 0x20]);
    const burned = new Uint8Array(source.length + flag.length);
    burned.set(source);
    burned.set(flag, source.length);
    expect(deidentifyDicom(burned).burnedIn).toBe(true);
    expect(() => deidentifyDicom(source.subarray(0, 100))).toThrow(DicomDeidentifyError);
    expect(() => deidentifyDicom(source.subarray(0, 401))).toThrow(DicomDeidentifyError);
  });
});
