import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Matrix4, PerspectiveCamera, Vector3 } from 'three';
import { describe, expect, it } from 'vitest';
import type { Job } from '../api/types';
import { asSentence } from '../lib/format';
import { taskLabel } from '../jobs/JobsList';
import { savedName } from '../lib/download';
import { STANDARD_VIEWS, cubeTransform, niceScaleMm, rasToThree } from '../lib/ras';
import { describePosition } from '../slices/SliceViewer';
import { labelColormap } from '../slices/labelColormap';
import { jobIdFromPath, pathOfJob } from '../state/route';
import { EngineBadge, degradedSummary } from './SegmentationView';
import { jobStem } from './jobStem';

/** Where the orientation cube puts a face whose outward normal is `cssNormal`, for a camera at `dir`. */
function faceNormalOnScreen(dir: Vector3, cssNormal: Vector3): Vector3 {
  const cam = new PerspectiveCamera();
  cam.position.copy(dir).multiplyScalar(100);
  cam.lookAt(0, 0, 0);
  const m = new Matrix4().fromArray(cubeTransform(cam.quaternion).slice('matrix3d('.length, -1).split(',').map(Number));
  return cssNormal.clone().transformDirection(m);
}

describe('orientation', () => {
  it('the "left" view puts the patient\'s left toward the camera', () => {
    const patientLeft = rasToThree([-1, 0, 0]); // RAS: left is -R
    expect(STANDARD_VIEWS.left.dot(patientLeft)).toBeCloseTo(1);
    expect(STANDARD_VIEWS.right.dot(patientLeft)).toBeCloseTo(-1);
    expect(STANDARD_VIEWS.anterior.dot(rasToThree([0, 1, 0]))).toBeCloseTo(1);
    expect(STANDARD_VIEWS.superior.dot(rasToThree([0, 0, 1]))).toBeCloseTo(1, 3);
  });

  it('turns the cube so the face the camera looks at points out of the screen', () => {
    // CSS faces: L is +x, A is +z, S is -y (CSS y points down)
    expect(faceNormalOnScreen(STANDARD_VIEWS.left, new Vector3(1, 0, 0)).z).toBeCloseTo(1);
    expect(faceNormalOnScreen(STANDARD_VIEWS.anterior, new Vector3(0, 0, 1)).z).toBeCloseTo(1);
    expect(faceNormalOnScreen(STANDARD_VIEWS.superior, new Vector3(0, -1, 0)).z).toBeCloseTo(1, 3);
    // from the front, superior stays up (CSS -y) and the patient's left is on the screen's right
    expect(faceNormalOnScreen(STANDARD_VIEWS.anterior, new Vector3(0, -1, 0)).y).toBeCloseTo(-1);
    expect(faceNormalOnScreen(STANDARD_VIEWS.anterior, new Vector3(1, 0, 0)).x).toBeCloseTo(1);
  });

  it('picks a 1-2-5 scale bar length that fits', () => {
    expect(niceScaleMm(1)).toEqual({ mm: 100, px: 100 });
    expect(niceScaleMm(2)).toEqual({ mm: 50, px: 100 });
    expect(niceScaleMm(0.5).mm).toBe(200);
    expect(niceScaleMm(0)).toEqual({ mm: 0, px: 0 });
  });
});

describe('degraded engine', () => {
  const engine = { name: 'threshold', degraded: true, note: 'TotalSegmentator missing at /opt/venv; set TOTALSEG_HOME_DIR' };

  it('says one sentence and keeps the operator note behind a disclosure', async () => {
    expect(degradedSummary(engine, 5)).toBe('Approximate: the full TotalSegmentator model is not installed on this server, so the threshold fallback engine ran — 5 structures instead of 117.');
    render(<EngineBadge engine={engine} structures={5} />);
    const note = screen.getByText(/TOTALSEG_HOME_DIR/);
    expect(note).not.toBeVisible();
    await userEvent.click(screen.getByText('Details'));
    expect(note).toBeVisible();
  });
});

describe('addresses, names and words', () => {
  const job = { jobId: 'abc123', status: 'completed', input: { filename: 'example_ct.nii.gz' } } as Job;

  it('maps /jobs/{id} both ways', () => {
    expect(jobIdFromPath('/jobs/abc123')).toBe('abc123');
    expect(jobIdFromPath('/jobs/abc123/')).toBe('abc123');
    expect(jobIdFromPath('/')).toBeNull();
    expect(jobIdFromPath('/jobs/../x')).toBeNull();
    expect(pathOfJob('abc123')).toBe('/jobs/abc123');
    expect(pathOfJob(null)).toBe('/');
  });

  it('names downloads after the job', () => {
    expect(jobStem(job)).toBe('example_ct');
    expect(savedName('example_ct', 'result.zip')).toBe('example_ct-result.zip');
    expect(savedName('example_ct', 'scene.glb')).toBe('example_ct.glb');
    expect(savedName('example_ct', 'stl/liver.stl')).toBe('example_ct-liver.stl');
  });

  it('labels a failed volume job Segmentation and writes messages as sentences', () => {
    expect(taskLabel({ ...job, status: 'failed', task: null, kind: 'volume' })).toBe('Segmentation');
    expect(taskLabel({ ...job, task: null, kind: 'image' })).toBe('Classification');
    expect(asSentence('the engine stopped')).toBe('The engine stopped.');
    expect(asSentence('Done!')).toBe('Done!');
  });
});

describe('slice tools', () => {
  it('hides in the slices what is hidden in 3D', () => {
    const structures = [
      { name: 'liver', label: 5, system: 'organs', volumeMl: 1, color: '#ff0000', centroid: null },
      { name: 'body', label: 9, system: 'body', volumeMl: 1, color: '#00ff00', centroid: null },
    ];
    const cm = labelColormap(structures, { body: true });
    expect(cm.I).toEqual([0, 5, 9]);
    expect(cm.A).toEqual([0, 255, 0]);
  });

  it('reports the slice and the position in mm', () => {
    expect(describePosition({ vox: [11, 39, 6], mm: [10, -3.5, 42] }, [3, 256, 256, 120])).toBe('Slice 12, 40, 7 of 256 × 256 × 120 · RAS 10.0, -3.5, 42.0 mm');
  });
});
