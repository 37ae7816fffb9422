"""Train the brain-tumour classifier and write model.keras, model.onnx and card.json.

    python -m oculus.classify.train DATA_DIR -o OUT_DIR [--epochs N] [--image-size S]
        [--limit-per-class K] [--seed 1337] [--init-seed N] [--arch compact|efficientnetb3]

DATA_DIR holds one folder per class (glioma, meningioma, notumor|no_tumor, pituitary).
Split: stratified, seeded, near-duplicate-safe (see oculus.classify.dataset). Training:
augmentation, class weights, AdamW with warm-up + cosine decay, label smoothing, early
stopping on validation accuracy (best weights restored). Afterwards a temperature is fitted
on the validation logits, and the ONNX export is checked against Keras before writing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from oculus.classify.calibration import (
    classification_metrics,
    expected_calibration_error,
    fit_temperature,
    nll,
    softmax,
)
from oculus.classify.dataset import (
    CLASSES,
    NEAR_DUPLICATE_BITS,
    grouped_stratified_split,
    load_image_set,
    near_duplicate_groups,
)

VAL_FRACTION = 0.2
#: Confidence below which the runtime calls a result inconclusive (written into the card).
DEFAULT_THRESHOLD = 0.55


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m oculus.classify.train", description=__doc__.split("\n\n")[0])
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--image-size", type=int, default=None, help="default: 144 compact, 300 efficientnetb3")
    ap.add_argument("--limit-per-class", type=int, default=None, help="use only the first K images of each class")
    ap.add_argument("--seed", type=int, default=1337, help="split seed (train/validation partition)")
    ap.add_argument("--init-seed", type=int, default=None,
                    help="seed for weight init, shuffling and augmentation only (default: --seed); "
                         "the split still uses --seed")
    ap.add_argument("--arch", choices=("compact", "efficientnetb3"), default="compact")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    ap.add_argument("--patience", type=int, default=10, help="early-stopping patience (epochs)")
    ap.add_argument("--name", default="oculus-brain-tumor")
    ap.add_argument("--version", default=None, help="model version (default: date-based)")
    ap.add_argument("--finalize-from", type=Path, default=None,
                    help="skip fitting: calibrate/export/card from this saved .keras checkpoint (same split/seed)")
    return ap.parse_args(argv)


def code_version() -> str:
    """git commit (+dirty) if available, always with a hash of the classifier sources."""
    src = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for f in sorted(src.glob("*.py")):
        digest.update(f.read_bytes())
    try:
        rev = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=src,
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    return f"{rev or 'no-git'}+src.{digest.hexdigest()[:12]}"


def make_augmenter(value_range: tuple[float, float], seed: int):
    """Random flips (left-right), small rotation / zoom / shift, brightness and contrast."""
    import keras
    from keras import layers

    return keras.Sequential([
        layers.RandomFlip("horizontal", seed=seed),
        layers.RandomRotation(0.04, fill_mode="constant", seed=seed + 1),   # about +-15 degrees
        layers.RandomZoom((-0.12, 0.12), fill_mode="constant", seed=seed + 2),
        layers.RandomTranslation(0.06, 0.06, fill_mode="constant", seed=seed + 3),
        layers.RandomBrightness(0.12, value_range=value_range, seed=seed + 4),
        layers.RandomContrast(0.2, value_range=value_range, seed=seed + 5),
    ], name="augment")


def class_weights(labels: np.ndarray, k: int) -> np.ndarray:
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    return (len(labels) / (k * np.maximum(counts, 1))).astype(np.float32)


def make_datasets(x_tr, y_tr, x_va, y_va, spec, batch_size: int, seed: int):
    """tf.data pipelines over arrays already in memory (decoded once)."""
    import tensorflow as tf

    k = len(CLASSES)
    w = class_weights(y_tr, k)[y_tr]
    lo, hi = spec["offset"], spec["offset"] + 255.0 * spec["scale"]
    augment = make_augmenter((lo, hi), seed)

    def scale(x):
        return tf.cast(x, tf.float32) * spec["scale"] + spec["offset"]

    train = (tf.data.Dataset.from_tensor_slices((x_tr, tf.one_hot(y_tr, k), w))
             .shuffle(len(x_tr), seed=seed, reshuffle_each_iteration=True)
             .batch(batch_size)
             .map(lambda x, y, sw: (tf.clip_by_value(augment(scale(x), training=True), lo, hi), y, sw),
                  num_parallel_calls=1)
             .prefetch(2))
    val = (tf.data.Dataset.from_tensor_slices((x_va, tf.one_hot(y_va, k)))
           .batch(64).map(lambda x, y: (scale(x), y)).cache().prefetch(2))
    return train, val


def compile_model(model, steps_per_epoch: int, epochs: int, lr: float) -> None:
    import keras

    total = max(1, steps_per_epoch * epochs)
    warmup = min(steps_per_epoch * 2, total // 5)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=lr / 20, decay_steps=max(1, total - warmup), alpha=0.01,
        warmup_target=lr, warmup_steps=warmup)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=5e-4),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.05),
                  metrics=["accuracy"])


def fit(model, train, val, epochs: int, patience: int, checkpoint: Path) -> dict:
    import keras

    callbacks = [
        # Counting starts half-way: early on, validation accuracy swings while the learning rate
        # is high (a first run stopped at epoch 25 of 36, before the cosine decay had annealed).
        keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=patience,
                                      restore_best_weights=True, start_from_epoch=epochs // 2, verbose=1),
        keras.callbacks.ModelCheckpoint(str(checkpoint), monitor="val_accuracy", mode="max", save_best_only=True),
    ]
    hist = model.fit(train, validation_data=val, epochs=epochs, callbacks=callbacks, verbose=2)
    h = {k: [round(float(v), 5) for v in vals] for k, vals in hist.history.items()}
    h["best_epoch"] = int(np.argmax(h["val_accuracy"])) + 1
    h["epochs_run"] = len(h["val_accuracy"])
    return h


def evaluate(logits: np.ndarray, labels: np.ndarray) -> dict:
    """Validation metrics with and without the fitted temperature."""
    t = fit_temperature(logits, labels)
    raw, cal = softmax(logits), softmax(logits, t)
    metrics = classification_metrics(labels, cal.argmax(1), CLASSES)
    metrics["calibration"] = {
        "method": "temperature scaling fitted on the validation split (NLL)",
        "temperature": round(t, 5),
        "ece_before": round(expected_calibration_error(raw, labels), 5),
        "ece_after": round(expected_calibration_error(cal, labels), 5),
        "nll_before": round(nll(logits, labels), 5),
        "nll_after": round(nll(logits, labels, t), 5),
        "ece_bins": 15,
    }
    return metrics


def machine_description() -> str:
    import tensorflow as tf

    gpus = len(tf.config.list_physical_devices("GPU"))
    return f"{platform.machine()}, {os.cpu_count()} CPU cores, {gpus or 'no'} GPU{'s' if gpus != 1 else ''}"


def framework_versions() -> dict:
    import keras
    import onnx
    import onnxruntime
    import tensorflow as tf

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__, "numpy": np.__version__}


def build_card(args, spec, size, data, split, metrics, history, export_diff, params, seconds) -> dict:
    y = data.labels
    tr, va, groups = split
    return {
        "schema": "oculus.model-card/1",
        "name": args.name,
        "version": args.version or datetime.now(UTC).strftime("%Y.%m.%d"),
        "task": "brain-mri-tumor-classification",
        "classes": list(CLASSES),
        "files": {"onnx": "model.onnx", "keras": "model.keras"},
        "default_format": "onnx",
        "input": {"shape": [size, size, 1 if spec["color_mode"] == "grayscale" else 3], "layout": "NHWC",
                  "dtype": "float32", "name": "image"},
        "output": {"kind": "logits", "apply": "softmax(logits / temperature)"},
        "preprocessing": {**spec, "size": [size, size],
                          "description": f"convert to {spec['color_mode']} (Pillow), resize to {size}x{size} with "
                                         f"Pillow {spec['resize']}, float32 pixel * {spec['scale']:.8g} + {spec['offset']}"},
        "temperature": metrics["calibration"]["temperature"],
        "confidence_threshold": DEFAULT_THRESHOLD,
        "architecture": {"name": args.arch, "parameters": int(params),
                         "pretrained": "imagenet (keras.applications)" if args.arch == "efficientnetb3" else None,
                         "why": ("small residual CNN with separable convolutions trained from scratch on the "
                                 "project's CPU: no third-party weights or licences, reproducible in one session")
                         if args.arch == "compact" else "EfficientNetB3 fine-tune for GPU training on AWS"},
        "training_data": {
            "source": str(args.data_dir), "dataset": "Brain Tumor MRI Dataset (M. Nickparvar), Training split",
            "images": int(len(y)), "per_class": {c: int(np.sum(y == i)) for i, c in enumerate(CLASSES)},
            "limit_per_class": args.limit_per_class,
            "split": {"method": f"stratified by class, seed {args.seed}; near-duplicates (256-bit dHash within "
                                f"{NEAR_DUPLICATE_BITS} bits, connected components) kept on one side",
                      "val_fraction": VAL_FRACTION, "seed": args.seed,
                      "train": int(len(tr)), "validation": int(len(va)),
                      "near_duplicate_groups": int(len(np.unique(groups))),
                      "images_in_multi_image_groups": int(np.sum(np.bincount(groups)[groups] > 1))},
        },
        "training": {"init_seed": args.seed if args.init_seed is None else args.init_seed,
                     "epochs_requested": args.epochs, "epochs_run": history.get("epochs_run"),
                     "best_epoch": history.get("best_epoch"), "batch_size": args.batch_size,
                     "optimizer": "AdamW (weight decay 5e-4), warm-up + cosine decay", "peak_lr": args.lr,
                     "loss": "categorical cross-entropy, label smoothing 0.05, class weights (balanced)",
                     "augmentation": "horizontal flip, rotation +-15 deg, zoom +-12 %, shift +-6 %, brightness +-12 %, contrast +-20 %",
                     "early_stopping": f"val_accuracy, patience {args.patience} counted from epoch {args.epochs // 2}, best weights restored",
                     "history": history, "wall_seconds": round(seconds, 1),
                     "machine": machine_description()},
        "command": "python -m oculus.classify.train " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "validation": metrics,
        "onnx_export_max_abs_diff": export_diff,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "frameworks": framework_versions(),
        "intended_use": "research use only; not a medical device; not for diagnosis",
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import keras

    from oculus.classify.arch import PREPROCESSING, build_model
    from oculus.classify.export import export_onnx

    started = time.time()
    init_seed = args.seed if args.init_seed is None else args.init_seed
    keras.utils.set_random_seed(init_seed)
    size = args.image_size or (144 if args.arch == "compact" else 300)
    spec = PREPROCESSING[args.arch]
    args.out.mkdir(parents=True, exist_ok=True)

    data = load_image_set(args.data_dir, spec["color_mode"], size, args.limit_per_class)
    groups = near_duplicate_groups(data.hashes)
    tr, va = grouped_stratified_split(data.labels, groups, VAL_FRACTION, args.seed)
    print(f"images {len(data.labels)}  train {len(tr)}  val {len(va)}  groups {len(np.unique(groups))}  "
          f"load {time.time() - started:.1f}s", flush=True)
    train, val = make_datasets(data.pixels[tr], data.labels[tr], data.pixels[va], data.labels[va],
                               spec, args.batch_size, init_seed)

    checkpoint = args.out / "checkpoint_best.keras"
    if args.finalize_from:
        model = keras.models.load_model(args.finalize_from)
        history = {"note": f"weights from checkpoint {args.finalize_from.name}"}
    else:
        model = build_model(args.arch, size, len(CLASSES))
        steps = int(np.ceil(len(tr) / args.batch_size))
        compile_model(model, steps, args.epochs, args.lr)
        history = fit(model, train, val, args.epochs, args.patience, checkpoint)

    val_x = np.concatenate([x.numpy() for x, _ in val])
    logits = np.asarray(model.predict(val_x, verbose=0))
    metrics = evaluate(logits, data.labels[va])
    print(json.dumps({k: metrics[k] for k in ("accuracy", "per_class", "confusion_matrix", "calibration")}), flush=True)

    model.save(args.out / "model.keras")
    diff = export_onnx(model, args.out / "model.onnx", check_inputs=val_x[:64])
    card = build_card(args, spec, size, data, (tr, va, groups), metrics, history, diff,
                      model.count_params(), time.time() - started)
    (args.out / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    if checkpoint.exists() and not args.finalize_from:
        checkpoint.unlink()  # the final model.keras holds the same (best) weights
    print(f"wrote {args.out}/card.json  val accuracy {metrics['accuracy']}  {time.time() - started:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
