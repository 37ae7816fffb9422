"""Meshing speed: label map -> all result files, against a straightforward baseline.

Builds a deterministic synthetic CT-sized label map (512 x 512 x 400 voxels,
0.8 x 0.8 x 1.5 mm, ~100 blob-like structures from ~1 million voxels down to a few thousand,
touching and overlapping like organs do), then times in the same run, each in its own fresh
process so peak memory is its own:

* baseline: marching cubes (scikit-image) on each structure's bounding-box crop,
  fast-simplification to 90 % fewer triangles, one OBJ written with numpy.savetxt;
* ours: ``oculus.outputs.write_outputs`` - every result file (OBJ+MTL, GLB, segmentation
  NIfTI, report.json, preview.png, result.zip) at reduction 90 %, smoothing on.

Prints both wall times, the speed-up ratio (target >= 2.5x; ours target <= 4 s) and peak RSS
(the main process, and the largest worker process), plus CPU seconds of each (all its
processes), whose ratio is less sensitive to other load on a shared machine. Command:

    .venv/bin/python benchmarks/bench_meshing.py
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sagemaker"))

SHAPE = (512, 512, 400)
SPACING = (0.8, 0.8, 1.5)
STRUCTURES = 100


def synthetic_label_map(shape=SHAPE, spacing=SPACING, count=STRUCTURES, seed=7) -> np.ndarray:
    """Deterministic label map: ``count`` bumpy ellipsoids, log-uniform sizes 3e3-3e6 voxels."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, np.uint8)
    spacing = np.asarray(spacing)
    sizes = np.sort(np.exp(rng.uniform(np.log(3e3), np.log(3e6), count)))[::-1]
    centre = np.asarray(shape) / 2
    body = np.asarray([0.42, 0.32, 0.45]) * shape  # structures sit inside a body-like ellipsoid
    for label, voxels in enumerate(sizes, start=1):  # big first, so small ones stay visible
        aspect = np.exp(rng.uniform(np.log(0.4), np.log(2.5), 3))
        radii_mm = (voxels * spacing.prod() / (4 / 3 * np.pi * aspect.prod())) ** (1 / 3) * aspect
        radii = np.minimum(radii_mm / spacing, np.asarray(shape) / 2 - 3)
        angle = rng.uniform(0, 2 * np.pi)
        direction = np.asarray([np.cos(angle), np.sin(angle), 1.0])
        middle = centre + rng.uniform(-1, 1, 3) * np.maximum(body - radii, 0) * direction
        low = np.maximum(np.floor(middle - radii * 1.3).astype(int), 1)
        high = np.minimum(np.ceil(middle + radii * 1.3).astype(int) + 1, np.asarray(shape) - 1)
        grids = np.ogrid[low[0]:high[0], low[1]:high[1], low[2]:high[2]]
        d = [(g - c) / r for g, c, r in zip(grids, middle, radii)]
        phase = rng.uniform(0, 2 * np.pi, 3)
        bump = 1 + 0.15 * np.sin(3 * d[0] + phase[0]) * np.sin(2 * d[1] + phase[1]) + 0.1 * np.sin(4 * d[2] + phase[2])
        inside = d[0] ** 2 + d[1] ** 2 + d[2] ** 2 <= bump**2
        labels[low[0]:high[0], low[1]:high[1], low[2]:high[2]][inside] = label
    return labels


def synthetic_ct(labels: np.ndarray) -> np.ndarray:
    """HU-like intensities: a per-label value plus a deterministic ripple (int16)."""
    table = (np.arange(256) * 7 % 200 - 50).astype(np.int16)
    table[0] = -1000
    ripple = (np.arange(labels.shape[2], dtype=np.int16) % 17)[None, None, :]
    return table[labels] + ripple


def affine() -> np.ndarray:
    a = np.diag([*SPACING, 1.0])
    a[:3, 3] = [-200.0, -180.0, -300.0]
    return a


def run_baseline(labels: np.ndarray, out_dir: Path) -> int:
    import fast_simplification
    from scipy import ndimage
    from skimage.measure import marching_cubes

    a = affine()
    triangles = 0
    with open(out_dir / "baseline.obj", "w") as obj:
        offset = 1
        for label, box in enumerate(ndimage.find_objects(labels), start=1):
            if box is None:
                continue
            crop = np.pad(labels[box] == label, 1).astype(np.float32)
            verts, faces, _, _ = marching_cubes(crop, 0.5)
            verts = (verts - 1 + [s.start for s in box]) @ a[:3, :3].T + a[:3, 3]
            verts, faces = fast_simplification.simplify(verts, faces, 0.9)
            obj.write(f"o label_{label}\n")
            np.savetxt(obj, verts, fmt="v %.4f %.4f %.4f")
            np.savetxt(obj, faces[:, ::-1] + offset, fmt="f %d %d %d")
            offset += len(verts)
            triangles += len(faces)
    return triangles


def prepare_ours(labels: np.ndarray):
    from oculus.segment.base import EngineInfo, Segmentation
    from oculus.volume import Volume

    volume = Volume(synthetic_ct(labels), affine(), "nifti", "CT")
    classes = {i: f"structure_{i:03d}" for i in range(1, 256)}
    return volume, Segmentation(labels, affine(), classes, EngineInfo("labels", "bench"))


def run_ours(inputs, out_dir: Path) -> int:
    from oculus.outputs import write_outputs

    volume, segmentation = inputs
    started = time.perf_counter()
    summary = write_outputs(volume, segmentation, out_dir, smoothing=True, reduction_percent=90)
    print(json.dumps({"stages": {k: round(v, 3) for k, v in summary["timings"].items()},
                      "wall_in_process": round(time.perf_counter() - started, 3)}), file=sys.stderr)
    return summary["result"]["triangles"]


def child(which: str, labels_path: str) -> None:
    """Runs one pipeline in this (fresh) process and prints a JSON line of measurements."""
    labels = np.load(labels_path)
    import fast_simplification  # noqa: F401  - imports are not what we time
    import skimage.measure  # noqa: F401
    import oculus.outputs  # noqa: F401

    inputs = labels if which == "baseline" else prepare_ours(labels)  # not timed
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        triangles = (run_baseline if which == "baseline" else run_ours)(inputs, Path(tmp))
        wall = time.perf_counter() - started
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({
        "wall_s": wall,
        "cpu_s": own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime - cpu_before,
        "triangles": triangles,
        "peak_rss_main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_rss_worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }))


def measure(which: str, labels_path: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", which, labels_path],
                          capture_output=True, text=True, check=True)
    if done.stderr.strip():
        print(f"  {which}: {done.stderr.strip().splitlines()[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    started = time.perf_counter()
    labels = synthetic_label_map()
    counts = np.bincount(labels.ravel())[1:]
    present = counts[counts > 0]
    print(f"label map {labels.shape} {SPACING} mm: {len(present)} structures, "
          f"{present.min()}-{present.max()} voxels each, {present.sum()} labelled "
          f"(built in {time.perf_counter() - started:.1f} s)")
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "labels.npy")
        np.save(path, labels)
        del labels
        baseline = measure("baseline", path)
        ours = measure("ours", path)
    for name, m in (("baseline (crops + marching cubes + fast-simplification + OBJ)", baseline),
                    ("ours (all outputs: OBJ, MTL, GLB, NIfTI, report, preview, ZIP)", ours)):
        print(f"{name}: {m['wall_s']:.2f} s wall, {m['cpu_s']:.2f} s CPU, {m['triangles']} triangles, peak RSS main "
              f"{m['peak_rss_main_mb']:.0f} MB, largest worker {m['peak_rss_worker_mb']:.0f} MB")
    print(f"speed-up: {baseline['wall_s'] / ours['wall_s']:.2f}x (target >= 2.5x); "
          f"ours {ours['wall_s']:.2f} s (target <= 4 s); CPU-time ratio "
          f"{baseline['cpu_s'] / ours['cpu_s']:.2f}x (less sensitive to other load on the machine)")
    print(f"machine load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        main()
