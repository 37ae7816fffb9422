"""Threshold engine speed: volume -> label map, against a naive version measured in the same run.

The naive baseline computes the same structures the straightforward way: every connected
component is inspected with a full-volume mask (``labels == i``) instead of its bounding box.
Run: .venv/bin/python benchmarks/bench_threshold.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage as ndi

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sagemaker"))

from oculus.segment import threshold as t  # noqa: E402
from oculus.volume import Volume  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "ct" / "example_ct.nii.gz"


def naive_label_map(volume: Volume) -> np.ndarray:
    hu = np.asarray(volume.data, dtype=np.float32)
    spacing, axis = volume.spacing, t.axial_axis(volume.affine)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    body = t.body_mask(hu, spacing, axis)
    outside, n = ndi.label((hu < t.AIR_HU) & ~body)
    exterior = np.zeros_like(body)
    for i in range(1, n + 1):
        m = outside == i
        if np.mean(hu[m] < t.PURE_AIR_HU) > 0.9:
            exterior |= m
    air, n = ndi.label((hu < t.AIR_HU) & ~exterior)
    cropped = t.field_of_view_cuts_body(body, axis)
    lung_ids = []
    for i in range(1, n + 1):
        m = air == i
        if m.sum() * voxel_ml >= t.MIN_LUNG_ML and np.mean(hu[m] < t.PURE_AIR_HU) <= t.MAX_GAS_FRACTION_IN_LUNG:
            if cropped or body[m].mean() >= 0.5:
                lung_ids.append(i)
    lungs = np.isin(air, lung_ids)
    trachea = t.trachea_mask(hu, lungs, axis, volume.affine, spacing)
    left, right, _ = t.split_left_right(np.where(trachea, 0, air), lung_ids, body, volume.affine)
    bone_raw = (hu > t.BONE_HU) & body
    comps, n = ndi.label(bone_raw, structure=np.ones((3, 3, 3)))
    bone = np.zeros_like(body)
    for i in range(1, n + 1):
        m = comps == i
        if m.sum() * voxel_ml >= t.MIN_BONE_PIECE_ML:
            bone |= m
    in_plane = [s for i, s in enumerate(spacing) if i != axis]
    bone = t.fill_holes_per_slice(bone, axis, int(t.MAX_MARROW_HOLE_CM2 * 100 / (in_plane[0] * in_plane[1])))
    labels = np.zeros(hu.shape, np.uint8)
    labels[body | left | right | trachea] = t.BODY
    labels[bone] = t.SKELETON
    labels[left], labels[right], labels[trachea] = t.LUNG_LEFT, t.LUNG_RIGHT, t.TRACHEA
    return labels


def best_of(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def bench(name: str, volume: Volume, repeats: int) -> None:
    fast_s, (labels, _) = best_of(lambda: t.ThresholdEngine.label_map(volume), repeats)
    naive_s, naive = best_of(lambda: naive_label_map(volume), repeats)
    same = np.array_equal(labels, naive)
    print(f"{name}: shape {volume.shape}  threshold engine {fast_s:.3f} s  naive baseline {naive_s:.3f} s  "
          f"ratio {naive_s / fast_s:.1f}x  identical output: {same}")


def main() -> None:
    img = nib.load(DATA)
    volume = Volume(np.asanyarray(img.dataobj), img.affine, "nifti", "CT")
    bench("example_ct.nii.gz (3 mm)", volume, repeats=3)
    # The same scan at 1.5 mm (nearest-neighbour upsampling): closer to clinical volume sizes.
    fine = np.repeat(np.repeat(np.repeat(volume.data, 2, 0), 2, 1), 2, 2)
    affine = volume.affine.copy()
    affine[:3, :3] /= 2
    bench("example_ct upsampled to 1.5 mm", Volume(fine, affine, "nifti", "CT"), repeats=1)


if __name__ == "__main__":
    main()
