"""Single-image classification latency: onnxruntime vs TensorFlow for the shipped model.

    .venv/bin/python benchmarks/bench_classify.py [--runs 200] [--warmup 20] [--card PATH]

Both backends load the same model from the same card and see the same real image (the first
glioma slice of ../shared/data/brain-mri/Training, or a synthetic slice if the data is
absent). Reported per backend: model call alone (preprocessed 1-image batch) and end to end
(uint8 array -> answer dict, incl. resize and softmax), median and p95 in ms, plus the
TensorFlow / onnxruntime ratio measured in this same run. Target: onnxruntime end to end <= 50 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sagemaker"))

from oculus.classify import load_classifier  # noqa: E402

SHARED = Path(os.environ.get("OCULUS_SHARED_DATA", ROOT.parent / "shared" / "data"))


def sample_image() -> tuple[np.ndarray, str]:
    folder = SHARED / "brain-mri" / "Training" / "glioma"
    if folder.is_dir():
        from oculus.io import load_image

        path = sorted(folder.iterdir())[0]
        return load_image(path), path.name
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (224, 224), dtype=np.uint8), "synthetic 224x224"


def timed(fn, runs: int, warmup: int) -> tuple[float, float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--card", type=Path, default=None)
    args = ap.parse_args()

    image, name = sample_image()
    print(f"image: {name} {image.shape}; {platform.machine()} {os.cpu_count()} cores; runs {args.runs}")
    results = {}
    for fmt in ("onnx", "keras"):
        t = time.perf_counter()
        clf = load_classifier(args.card, fmt=fmt)
        load_s = time.perf_counter() - t
        batch = clf.preprocess_batch([image])
        model_ms = timed(partial(clf.backend, batch), args.runs, args.warmup)
        e2e_ms = timed(partial(clf.classify, image), args.runs, args.warmup)
        answer = clf.classify(image)
        results[fmt] = (model_ms, e2e_ms)
        print(f"{fmt:5s} load {load_s:6.2f}s | model call median {model_ms[0]:7.2f} ms p95 {model_ms[1]:7.2f} ms"
              f" | end-to-end median {e2e_ms[0]:7.2f} ms p95 {e2e_ms[1]:7.2f} ms | -> {answer['predicted_class']}"
              f" {answer['confidence']:.3f}")
    (om, oe), (km, ke) = results["onnx"], results["keras"]
    print(f"ratio TensorFlow/onnxruntime (median): model call {km[0] / om[0]:.2f}x, end-to-end {ke[0] / oe[0]:.2f}x")
    ok = oe[0] <= 50.0
    print(f"target onnxruntime end-to-end median <= 50 ms: {'PASS' if ok else 'FAIL'} ({oe[0]:.2f} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
