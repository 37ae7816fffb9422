"""Single-image classification latency and size of the served model versions, on one CPU core.

    taskset -c 0 .venv/bin/python benchmarks/bench_classify.py [--runs 200] [--warmup 20]
        [--version v1 --version v2] [--keras]

Every version listed (default: all versions the shipped index serves) is loaded from its
folder under oculus/models/brain_tumor exactly as served (ONNX through onnxruntime) and sees the same real image (the first
glioma slice of ../shared/data/brain-mri/Training, or a synthetic slice if the data is absent).
Reported per version: model call alone (preprocessed 1-image batch), the out-of-distribution
check alone, and end to end (uint8 array -> answer dict: OOD check, resize, model, softmax,
verdict), median and p95 in ms; the model files' sizes; and each version's end-to-end ratio to
the first version, measured in this same run. onnxruntime gets one intra-op thread here, and
`taskset -c 0` pins the whole process to one core. --keras adds the TensorFlow backend of the
same models. Targets (issue 13): end to end <= 20 ms per image, model files <= 50 MB.
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

from oculus.classify import available_versions, load_classifier  # noqa: E402
from oculus.classify.registry import MODELS_DIR  # noqa: E402

SHARED = Path(os.environ.get("OCULUS_SHARED_DATA", ROOT.parent / "shared" / "data"))
TARGET_MS, TARGET_MB = 20.0, 50.0


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


def one_thread(clf) -> None:
    """Rebuild the onnxruntime session with one intra-op thread (the issue's 'one CPU core')."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    clf.backend.session = ort.InferenceSession(str(clf.model_path), opts, providers=["CPUExecutionProvider"])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--version", action="append", default=None, help="version key (repeat); default: all served")
    ap.add_argument("--keras", action="store_true", help="also time the Keras (TensorFlow) backend")
    args = ap.parse_args()

    image, name = sample_image()
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"image: {name} {image.shape}; {platform.machine()} {os.cpu_count()} cores, process pinned to "
          f"{affinity}; runs {args.runs}")
    ok, baseline = True, None
    for version in args.version or available_versions():
        for fmt in ("onnx", "keras") if args.keras else ("onnx",):
            card = MODELS_DIR / version / "card.json"  # also a version folder the index does not serve yet
            t = time.perf_counter()
            clf = load_classifier(card, fmt=fmt)
            if fmt == "onnx":
                one_thread(clf)
            load_s = time.perf_counter() - t
            batch = clf.preprocess_batch([image])
            model_ms = timed(partial(clf.backend, batch), args.runs, args.warmup)
            ood_ms = timed(partial(clf.out_of_distribution, image), args.runs, args.warmup)
            e2e_ms = timed(partial(clf.classify, image), args.runs, args.warmup)
            answer = clf.classify(image)
            size_mb = sum(f.stat().st_size for fmt in clf.card.data["files"] for f in clf.card.model_files(fmt)) / 2**20
            baseline = baseline or e2e_ms[0]
            print(f"{version} {fmt:5s} load {load_s:5.2f}s | model median {model_ms[0]:6.2f} ms p95 {model_ms[1]:6.2f}"
                  f" | OOD check {ood_ms[0]:5.2f} ms | end-to-end median {e2e_ms[0]:6.2f} ms p95 {e2e_ms[1]:6.2f}"
                  f" (x{e2e_ms[0] / baseline:.2f} of the first) | files {size_mb:5.1f} MB | -> {answer['verdict']}"
                  f" {answer['predicted_class']} {answer['confidence']:.3f}")
            if fmt == "onnx":
                ok &= e2e_ms[0] <= TARGET_MS and size_mb <= TARGET_MB
    print(f"targets onnxruntime end-to-end median <= {TARGET_MS:g} ms and files <= {TARGET_MB:g} MB: "
          f"{'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
