// Patient RAS+ millimetres -> three.js world. Chosen mapping (a proper rotation, no mirroring):
//   three.x = -R (patient's left is +x), three.y = S (superior is up), three.z = A (anterior faces the default camera)
// so the default camera on +z sees the patient from the front, the patient's right on the screen's left.
import { Matrix4, Vector3, type Quaternion } from 'three';

export const RAS_TO_THREE = new Matrix4().set(
  -1, 0, 0, 0,
  0, 0, 1, 0,
  0, 1, 0, 0,
  0, 0, 0, 1,
);

export function rasToThree(ras: ArrayLike<number>): Vector3 {
  return new Vector3(ras[0], ras[1], ras[2]).applyMatrix4(RAS_TO_THREE);
}

export function threeToRas(v: Vector3): [number, number, number] {
  const m = RAS_TO_THREE.clone().invert();
  const r = v.clone().applyMatrix4(m);
  return [r.x, r.y, r.z];
}

/** Clip plane axes by anatomical plane, as three.js normals (pointing to the kept half). */
export const CLIP_AXES = {
  axial: new Vector3(0, -1, 0), // keeps what is below the plane: see into the body from above
  coronal: new Vector3(0, 0, -1), // keeps what is posterior: see in from the front
  sagittal: new Vector3(1, 0, 0), // keeps the patient's left
} as const;
export type ClipAxis = keyof typeof CLIP_AXES;

/** Where each standard view puts the camera, as a three.js direction from the target (see the mapping above). */
export const STANDARD_VIEWS = {
  anterior: new Vector3(0, 0, 1),
  posterior: new Vector3(0, 0, -1),
  left: new Vector3(1, 0, 0), // the patient's left faces the camera
  right: new Vector3(-1, 0, 0),
  // From above / below, tilted a hair toward anterior-up so OrbitControls (superior is up) keeps
  // a defined roll: anterior at the top of the screen.
  superior: new Vector3(0, 1, -1e-3).normalize(),
  inferior: new Vector3(0, -1, 1e-3).normalize(),
} as const;
export type StandardView = keyof typeof STANDARD_VIEWS;

/** Labels of the orientation cube's faces, keyed by three.js axis direction. */
export const FACE_LABELS = { px: 'L', nx: 'R', py: 'S', ny: 'I', pz: 'A', nz: 'P' } as const;

/** A length for a scale bar that spans at most `maxPx` pixels: 1, 2 or 5 times a power of ten mm. */
export function niceScaleMm(pxPerMm: number, maxPx = 110): { mm: number; px: number } {
  if (!(pxPerMm > 0) || !Number.isFinite(pxPerMm)) return { mm: 0, px: 0 };
  const raw = maxPx / pxPerMm;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const mm = [5, 2, 1].map((k) => k * pow).find((v) => v <= raw) ?? pow;
  return { mm, px: mm * pxPerMm };
}

/**
 * CSS transform of the orientation cube for a camera with this world rotation: the inverse
 * rotation (world -> camera), with three's y-up turned into CSS's y-down on both sides.
 */
export function cubeTransform(cameraQuaternion: Quaternion): string {
  const flip = new Matrix4().makeScale(1, -1, 1);
  const m = new Matrix4().makeRotationFromQuaternion(cameraQuaternion).transpose();
  m.premultiply(flip).multiply(flip);
  return `matrix3d(${m.elements.map((v) => +v.toFixed(6)).join(',')})`;
}
