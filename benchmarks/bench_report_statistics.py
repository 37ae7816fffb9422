"""report.json's intensity distribution on a CT-sized map: per-structure crops against full masks.

On bench_meshing's synthetic label map (512 x 512 x 400 voxels, ~100 structures) over random
int16 "HU", times in the same run:

* baseline: one full-volume mask per label (``labels == label``), its values, then
  ``np.percentile`` - the straightforward way;
* ours: ``oculus.report.intensity_distribution`` on each structure's bounding-box crop (boxes
  from ``label_boxes``, which the mesher already has), as ``mesh_statistics`` calls it.

Checks that both give the same numbers and prints both wall times and their ratio. Command:

    nice .venv/bin/python benchmarks/bench_report_statistics.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sagemaker"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    from bench_meshing import synthetic_label_map

    from oculus.mesh.boxes import label_boxes
    from oculus.report import PERCENTILES, intensity_distribution

    labels = np.ascontiguousarray(synthetic_label_map())
    intensity = np.random.default_rng(3).integers(-1000, 1500, labels.shape, dtype=np.int16)
    boxes = label_boxes(labels)
    present = [(label, box) for label, box in enumerate(boxes, start=1) if box is not None]

    t0 = time.perf_counter()
    ours = {label: intensity_distribution(labels, intensity, label, box) for label, box in present}
    ours_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    baseline = {}
    for label, _ in present:
        values = intensity[labels == label].astype(np.float64)
        baseline[label] = np.percentile(values, (0, *PERCENTILES, 100))
    baseline_s = time.perf_counter() - t0

    for label, expected in baseline.items():
        got = ours[label]
        measured = [got["minIntensity"], got["p5Intensity"], got["medianIntensity"], got["p95Intensity"], got["maxIntensity"]]
        assert np.allclose(measured, expected, atol=1e-3), label
    print(f"map {labels.shape}, {len(present)} structures, {labels.astype(bool).sum() / labels.size:.1%} labelled")
    print(f"baseline (full mask per label): {baseline_s:.2f} s")
    print(f"ours (bounding-box crops):      {ours_s:.2f} s (label_boxes not included: the mesher has them)")
    print(f"speed-up: {baseline_s / ours_s:.1f}x")


if __name__ == "__main__":
    main()
