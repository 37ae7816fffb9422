// Patient RAS+ millimetres -> three.js world. Chosen mapping (a proper rotation, no mirroring):
//   three.x = -R (patient's left is +x), three.y = S (superior is up), three.z = A (anterior faces the default camera)
// so the default camera on +z sees the patient from the front, the patient's right on the screen's left.
import { Matrix4, Vector3 } from 'three';

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
