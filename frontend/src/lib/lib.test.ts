import { unzipSync, strFromU8 } from 'fflate';
import { describe, expect, it } from 'vitest';
import { Vector3 } from 'three';
import { colorToHex, groupBySystem, matchesSearch, structuresFromReport, systemOf } from './anatomy';
import { entriesFromFiles, folderName, zipFolder } from './dicomZip';
import { formatBytes, formatMl, safeFilename } from './format';
import { progressOf, stageLabel } from './jobStage';
import { RAS_TO_THREE, rasToThree, threeToRas } from './ras';

describe('RAS to three.js', () => {
  it('puts superior up, anterior toward the default camera and the patient right on -x', () => {
    expect(rasToThree([0, 0, 10]).toArray()).toEqual([0, 10, 0]);
    expect(rasToThree([0, 10, 0]).toArray()).toEqual([0, 0, 10]);
    expect(rasToThree([10, 0, 0]).toArray()).toEqual([-10, 0, 0]);
  });

  it('is a rotation (no mirroring) that round-trips', () => {
    expect(RAS_TO_THREE.determinant()).toBe(1);
    expect(threeToRas(rasToThree([12.5, -3, 40]))).toEqual([12.5, -3, 40]);
    expect(new Vector3(1, 2, 3).applyMatrix4(RAS_TO_THREE).length()).toBeCloseTo(Math.sqrt(14));
  });
});

describe('anatomy', () => {
  it('uses the report system when present and classifies by name otherwise', () => {
    expect(systemOf({ name: 'liver', system: 'Organs' })).toBe('organs');
    expect(systemOf({ name: 'vertebrae_L1' })).toBe('bones');
    expect(systemOf({ name: 'rib_left_3' })).toBe('bones');
    expect(systemOf({ name: 'gluteus_maximus_left' })).toBe('muscles');
    expect(systemOf({ name: 'inferior_vena_cava' })).toBe('vessels');
    expect(systemOf({ name: 'aorta' })).toBe('vessels');
    expect(systemOf({ name: 'spleen' })).toBe('organs');
  });

  it('converts report colours to CSS hex', () => {
    expect(colorToHex([255, 128, 0])).toBe('#ff8000');
    expect(colorToHex([1, 0.5, 0])).toBe('#ff8000');
    expect(colorToHex('#123456')).toBe('#123456');
    expect(colorToHex(undefined)).toBe('#b0b0b0');
  });

  it('groups by system in a fixed order with names sorted', () => {
    const s = structuresFromReport([
      { label: 3, name: 'vertebrae_L2', volumeMl: 20, color: [1, 1, 1], centroidMm: [1, 2, 3] },
      { label: 1, name: 'spleen', volumeMl: 200 },
      { label: 2, name: 'liver', volumeMl: 1500.2 },
    ]);
    expect(groupBySystem(s).map(([k, v]) => [k, v.map((x) => x.name)])).toEqual([
      ['organs', ['liver', 'spleen']],
      ['bones', ['vertebrae_L2']],
    ]);
    expect(s[0].centroid).toEqual([1, 2, 3]);
    expect(s[1].centroid).toBeNull();
  });

  it('searches names with or without underscores', () => {
    const [s] = structuresFromReport([{ label: 1, name: 'kidney_left' }]);
    expect(matchesSearch(s, 'kidney l')).toBe(true);
    expect(matchesSearch(s, 'KIDNEY_LEFT')).toBe(true);
    expect(matchesSearch(s, 'liver')).toBe(false);
  });
});

describe('formatting', () => {
  it('formats sizes, volumes and safe file names', () => {
    expect(formatBytes(1_500_000)).toBe('1.5 MB');
    expect(formatBytes(12)).toBe('12 B');
    expect(formatMl(1523.4)).toBe('1523 mL');
    expect(formatMl(3.14159)).toBe('3.14 mL');
    expect(safeFilename('CT scan #1 (ärztlich).nii.gz')).toBe('CT scan _1 (_rztlich).nii.gz');
    expect(safeFilename('../../etc')).toBe('etc');
  });
});

describe('job stage', () => {
  const base = { jobId: 'j', createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z' };
  it('says the GPU is waking when a job has been queued for a while', () => {
    const t0 = Date.parse(base.updatedAt);
    expect(stageLabel({ ...base, status: 'queued' }, t0 + 5_000)).toBe('Queued');
    expect(stageLabel({ ...base, status: 'queued' }, t0 + 60_000)).toMatch(/^Waking GPU/);
    expect(stageLabel({ ...base, status: 'queued', stage: 'waking_gpu' }, t0 + 1_000)).toMatch(/^Waking GPU/);
    expect(stageLabel({ ...base, status: 'queued', stage: 'queued' }, t0 + 600_000)).toBe('Queued');
  });
  it('names the engine stage while processing and clamps progress', () => {
    expect(stageLabel({ ...base, status: 'processing', stage: 'meshing' })).toBe('Meshing');
    expect(progressOf({ ...base, status: 'processing', progress: 140 })).toBe(100);
    expect(progressOf({ ...base, status: 'uploaded' })).toBeNull();
  });
});

describe('DICOM folder zip', () => {
  it('zips every file under its relative path, skipping hidden files', async () => {
    const mk = (name: string, rel: string, text: string) => Object.assign(new File([text], name), { webkitRelativePath: rel });
    const entries = entriesFromFiles([mk('IM1.dcm', 'series/IM1.dcm', 'one'), mk('IM2.dcm', 'series/sub/IM2.dcm', 'two'), mk('.DS_Store', 'series/.DS_Store', 'x')]);
    expect(folderName(entries)).toBe('series');
    const zip = await zipFolder(entries, 'series');
    expect(zip.name).toBe('series.zip');
    const files = unzipSync(new Uint8Array(await zip.arrayBuffer()));
    expect(Object.keys(files).sort()).toEqual(['series/IM1.dcm', 'series/sub/IM2.dcm']);
    expect(strFromU8(files['series/sub/IM2.dcm'])).toBe('two');
  });
  it('refuses an empty folder', async () => {
    await expect(zipFolder([], 'x')).rejects.toThrow('empty');
  });
});

describe('report.json as the engine writes it (docs/outputs.md)', () => {
  it('reads volume, colour object, centroid and system, and starts the body see-through', async () => {
    const { structuresFromReport, defaultOpacity } = await import('./anatomy');
    const [body, spleen] = structuresFromReport([
      { label: 1, name: 'body', system: 'body', volumeMl: 6394.5, color: { hex: '#b17a65', rgb: [177, 122, 101] }, centroidMm: [0, 1, 2] },
      { label: 2, name: 'spleen', system: 'digestive', volumeMl: 255.2, color: { hex: '#32aa3c', rgb: [50, 170, 60] }, centroidMm: [-112.8, 122.6, 148.8] },
    ]);
    expect(body.volumeMl).toBe(6394.5);
    expect(spleen.color).toBe('#32aa3c');
    expect(spleen.centroid).toEqual([-112.8, 122.6, 148.8]);
    expect(defaultOpacity(body)).toBeLessThan(1);
    expect(defaultOpacity(spleen)).toBe(1);
  });
});
