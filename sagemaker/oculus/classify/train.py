"""Train the brain-tumour classifier and write model.keras, model.onnx and card.json.

    python -m oculus.classify.train DATA_DIR -o OUT_DIR [--epochs N] [--image-size S]
        [--limit-per-class K] [--seed 1337] [--init-seed N] [--arch compact|compact-wide|efficientnetb3]
        [--resume] [--finalize-from CHECKPOINT.keras] [--final-fit-from SELECTION_RUN_DIR]

DATA_DIR holds one folder per class (glioma, meningioma, notumor|no_tumor, pituitary).
Splits: train / validation / final test, near-duplicate-safe, the final test stratified by
class x acquisition look (see oculus.classify.dataset.honest_splits). Training: augmentation,
class weights, AdamW with warm-up + cosine decay, label smoothing, early stopping on
validation accuracy (best weights restored). Every epoch writes checkpoint_last.keras (model
+ optimizer state), checkpoint_best.keras and checkpoint_state.json (epoch, history, wall
time) into OUT_DIR; the same command with --resume continues from them. Afterwards a
temperature is fitted on the validation logits and the ONNX export is checked against Keras
before writing. The final test split is never looked at here: `oculus.classify.assess` scores
the exported model on it through the serving runtime.

--final-fit-from RUN_DIR is the last step of the recipe: the same arguments as the selection
run in RUN_DIR, trained from scratch on train + validation for exactly that run's best epoch
count (same learning-rate schedule), with no early stopping (nothing is held out to stop on)
and that run's temperature. The final test split stays out of training either way.
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
    FINAL_TEST_SHARE,
    LEGACY_VAL_FRACTION,
    LOOK_CLUSTERS,
    LOOK_FEATURES,
    NEAR_DUPLICATE_BITS,
    Splits,
    honest_splits,
    load_image_set,
)

#: Files of a resumable run inside OUT_DIR.
LAST_CHECKPOINT = "checkpoint_last.keras"
BEST_CHECKPOINT = "checkpoint_best.keras"
STATE_FILE = "checkpoint_state.json"
#: Arguments that define the recipe: a resumed run must use the same ones.
RECIPE_ARGS = ("data_dir", "epochs", "image_size", "limit_per_class", "seed", "init_seed", "arch",
               "batch_size", "lr", "patience", "final_fit_from")
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
    ap.add_argument("--arch", choices=("compact", "compact-wide", "efficientnetb3"), default="compact")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    ap.add_argument("--patience", type=int, default=10, help="early-stopping patience (epochs)")
    ap.add_argument("--name", default="oculus-brain-tumor")
    ap.add_argument("--version", default=None, help="model version (default: date-based)")
    ap.add_argument("--finalize-from", type=Path, default=None,
                    help="skip fitting: calibrate/export/card from this saved .keras checkpoint (same split/seed)")
    ap.add_argument("--session-epochs", type=int, default=None,
                    help="train at most this many epochs now, then stop after the checkpoint (continue with --resume)")
    ap.add_argument("--final-fit-from", type=Path, default=None,
                    help="selection run folder (same recipe): train on train + validation for its best epoch "
                         "count and take its temperature")
    ap.add_argument("--resume", action="store_true",
                    help=f"continue from OUT_DIR/{LAST_CHECKPOINT} (same recipe arguments required)")
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


def recipe(args) -> dict:
    # final_fit_from only when set, so the checkpoints of selection runs keep their recipe
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
            if k in RECIPE_ARGS and not (k == "final_fit_from" and v is None)}


def recipe_difference(recorded: dict, mine: dict) -> str | None:
    """Why two recipes differ (None: they are the same). Folders are compared resolved:
    ../shared/data and /work/shared/data are one folder."""
    def comparable(r: dict) -> dict:
        return {k: str(Path(v).resolve()) if k in ("data_dir", "final_fit_from") and v is not None else v
                for k, v in r.items()}

    a, b = comparable(recorded), comparable(mine)
    if a == b:
        return None
    return "recipe differs: " + ", ".join(f"{k} {recorded.get(k)!r} vs {mine.get(k)!r}"
                                          for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))


def selection_run(args) -> dict:
    """What a final fit takes from its selection run: epoch count, temperature, validation metrics."""
    run = args.final_fit_from
    state, card_path = read_state(run), run / "card.json"
    if state is None or not card_path.is_file():
        raise SystemExit(f"--final-fit-from {run}: not a training run (checkpoint_state.json + card.json)")
    card = json.loads(card_path.read_text())
    finished = state.get("stopped_early") or state["epoch"] >= state["recipe"]["epochs"]
    if not finished or not str(card.get("training", {}).get("status", "")).startswith("complete"):
        raise SystemExit(f"--final-fit-from {run}: the selection run is not finished (its best epoch may still "
                         f"change); finish it with --resume first")

    mine = {k: v for k, v in recipe(args).items() if k != "final_fit_from"}
    if why := recipe_difference(state["recipe"], mine):
        raise SystemExit(f"--final-fit-from {run}: {why} (the selection run's vs this command's)")
    return {"run": str(run), "epochs": int(state["best_epoch"]), "temperature": float(card["temperature"]),
            "validation": card["validation"], "command": card.get("command")}


def read_state(out: Path) -> dict | None:
    path = out / STATE_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def epoch_checkpoint(out: Path, state: dict, patience: int, start_from: int, started: float,
                     session_epochs: int | None = None):
    """Keras callback: after every epoch save model + optimizer, the best model and the history,
    and stop early once validation accuracy has not improved for `patience` epochs. Without a
    validation split (a final fit) the last epoch counts as the best and nothing stops early."""
    import keras

    first_epoch = state["epoch"]

    class EpochCheckpoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            hist = state["history"]
            for k, v in (logs or {}).items():
                hist.setdefault(k, []).append(round(float(v), 5))
            acc = hist.get("val_accuracy")
            best = int(np.argmax(acc)) + 1 if acc else epoch + 1
            if best == epoch + 1:
                _save_atomically(self.model, out / BEST_CHECKPOINT)
            _save_atomically(self.model, out / LAST_CHECKPOINT)
            state.update(epoch=epoch + 1, best_epoch=best, best_val_accuracy=acc[best - 1] if acc else None,
                         wall_seconds=round(state["wall_seconds_before"] + time.time() - started, 1))
            if acc and epoch + 1 >= start_from and epoch + 1 - best >= patience:
                print(f"early stop: no val_accuracy gain for {patience} epochs (best epoch {best})", flush=True)
                state["stopped_early"] = True
                self.model.stop_training = True
            elif session_epochs is not None and epoch + 1 - first_epoch >= session_epochs:
                self.model.stop_training = True  # paused: the next --resume continues from here
            tmp = out / (STATE_FILE + ".tmp")
            tmp.write_text(json.dumps(state, indent=1) + "\n")
            os.replace(tmp, out / STATE_FILE)

    return EpochCheckpoint()


def _save_atomically(model, path: Path) -> None:
    tmp = path.with_name(path.stem + ".tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


def fit(model, train, val, args, state: dict, started: float, stop_at: int):
    """Train from state["epoch"] to stop_at (args.epochs, or a final fit's epoch count; val None
    for a final fit); returns (history, best model uncompiled)."""
    import keras

    # Counting starts half-way: early on, validation accuracy swings while the learning rate is
    # high (a first run stopped at epoch 25 of 36, before the cosine decay had annealed).
    callback = epoch_checkpoint(args.out, state, args.patience, args.epochs // 2, started, args.session_epochs)
    if state["epoch"] < stop_at and not state.get("stopped_early"):
        model.fit(train, validation_data=val, epochs=stop_at, initial_epoch=state["epoch"],
                  callbacks=[callback], verbose=2)
    h = dict(state["history"])
    h["best_epoch"] = state["best_epoch"]
    h["epochs_run"] = state["epoch"]
    # the best epoch's weights, without optimizer state (the shipped files carry none)
    return h, keras.models.load_model(args.out / BEST_CHECKPOINT, compile=False)


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


def split_card(args, data, splits: Splits) -> dict:
    groups = splits.groups
    return {"method": (f"near-duplicate groups (256-bit dHash within {NEAR_DUPLICATE_BITS} bits, connected "
                       f"components) kept on one side. train: the class-stratified {1 - LEGACY_VAL_FRACTION:.0%} of "
                       f"seed {args.seed} (v1's training side). Its other {LEGACY_VAL_FRACTION:.0%} is divided by "
                       f"whole groups, stratified by class x look cluster ({LOOK_CLUSTERS} k-means clusters of "
                       f"{', '.join(LOOK_FEATURES)}), into validation (picks epochs, temperature) and final_test "
                       f"({FINAL_TEST_SHARE:.0%}; nothing is tuned on it except the documented no_tumor_threshold)"),
            "seed": args.seed, "legacy_val_fraction": LEGACY_VAL_FRACTION, "final_test_share": FINAL_TEST_SHARE,
            "train": int(len(splits.train)), "validation": int(len(splits.validation)),
            "final_test": int(len(splits.final_test)),
            "counts": splits.summary(data.labels),
            "near_duplicate_groups": int(len(np.unique(groups))),
            "images_in_multi_image_groups": int(np.sum(np.bincount(groups)[groups] > 1))}


def model_io_card(spec: dict, size: int, files: dict) -> dict:
    """The card's files, input, output and preprocessing: what the serving runtime reads."""
    return {
        "files": files,
        "default_format": "onnx",
        "input": {"shape": [size, size, 1 if spec["color_mode"] == "grayscale" else 3], "layout": "NHWC",
                  "dtype": "float32", "name": "image"},
        "output": {"kind": "logits", "apply": "softmax(logits / temperature)"},
        "preprocessing": {**spec, "size": [size, size],
                          "description": f"convert to {spec['color_mode']} (Pillow), resize to {size}x{size} with "
                                         f"Pillow {spec['resize']}, float32 pixel * {spec['scale']:.8g} + {spec['offset']}"},
    }


def card_head(args, spec: dict, size: int, files: dict, metrics: dict) -> dict:
    """The fields every trained model's card starts with: identity, what the runtime reads, and the
    calibration fitted on the validation split."""
    return {
        "schema": "oculus.model-card/1",
        "name": args.name,
        "version": args.version or datetime.now(UTC).strftime("%Y.%m.%d"),
        "task": "brain-mri-tumor-classification",
        "classes": list(CLASSES),
        **model_io_card(spec, size, files),
        "temperature": metrics["calibration"]["temperature"],
        "confidence_threshold": DEFAULT_THRESHOLD,
    }


def build_card(args, spec, size, data, splits: Splits, metrics, history, export_diff, params, state,
               final_fit: dict | None = None, fit_images: int | None = None) -> dict:
    y = data.labels
    card = {
        **card_head(args, spec, size, {"onnx": "model.onnx", "keras": "model.keras"}, metrics),
        "architecture": {"name": args.arch, "parameters": int(params),
                         "pretrained": "imagenet (keras.applications)" if args.arch == "efficientnetb3" else None,
                         "why": ("small residual CNN with separable convolutions trained from scratch on the "
                                 "project's CPU: no third-party weights or licences, reproducible by its command")
                         if args.arch != "efficientnetb3" else "EfficientNetB3 fine-tune for GPU training on AWS"},
        "training_data": {
            "source": str(args.data_dir), "dataset": "Brain Tumor MRI Dataset (M. Nickparvar), Training split",
            "images": int(len(y)), "per_class": {c: int(np.sum(y == i)) for i, c in enumerate(CLASSES)},
            "limit_per_class": args.limit_per_class,
            "split": split_card(args, data, splits),
        },
        "training": {"init_seed": args.seed if args.init_seed is None else args.init_seed,
                     "epochs_requested": args.epochs, "epochs_run": history.get("epochs_run"),
                     "best_epoch": history.get("best_epoch"), "batch_size": args.batch_size,
                     "optimizer": "AdamW (weight decay 5e-4), warm-up + cosine decay", "peak_lr": args.lr,
                     "loss": "categorical cross-entropy, label smoothing 0.05, class weights (balanced)",
                     "augmentation": "horizontal flip, rotation +-15 deg, zoom +-12 %, shift +-6 %, brightness +-12 %, contrast +-20 %",
                     "early_stopping": f"val_accuracy, patience {args.patience} counted from epoch {args.epochs // 2}, best weights restored",
                     "status": run_status(args, history, state, final_fit),
                     "history": history, "wall_seconds": state.get("wall_seconds"),
                     "sessions": state.get("sessions", []),
                     "machine": machine_description()},
        "command": "python -m oculus.classify.train " + " ".join(shlex.quote(a) for a in recipe_argv(args.argv)),
        "validation": metrics,
        "onnx_export_max_abs_diff": export_diff,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "frameworks": framework_versions(),
        "intended_use": "research use only; not a medical device; not for diagnosis",
    }
    if final_fit:
        card["training"]["final_fit"] = {
            "trained_on": "train + validation", "images": fit_images,
            "epochs": final_fit["epochs"], "selection_run": final_fit["run"],
            "selection_command": final_fit["command"],
            "why": "the recipe, epoch count and temperature were chosen on the validation split by the selection "
                   "run; this fit adds the validation images to training and repeats that run's epochs and "
                   "learning-rate schedule, with no early stopping. Its 'validation' block is the selection run's.",
        }
        card["training"]["early_stopping"] = "none (final fit: the selection run's best epoch count)"
    return card


def run_status(args, history: dict, state: dict, final_fit: dict | None = None) -> str:
    run = history.get("epochs_run") or 0
    if final_fit and run >= final_fit["epochs"]:
        return f"complete: final fit, {run} epochs on train + validation"
    if final_fit:  # packaged with --finalize-from before the fit's last epoch
        return (f"partial: final fit stopped after epoch {run} of {final_fit['epochs']}, packaged from that "
                f"epoch's checkpoint; the recorded command with --resume continues the fit")
    if state.get("stopped_early"):
        return f"complete: early stop after epoch {run} (best {history.get('best_epoch')})"
    if run >= args.epochs:
        return f"complete: all {args.epochs} epochs"
    return (f"partial: stopped after epoch {run} of {args.epochs}, packaged from the best checkpoint so far; "
            f"the recorded command with --resume continues the run")


def recipe_argv(argv: list[str]) -> list[str]:
    """The command line without the session-only flags (--resume, --session-epochs N,
    --finalize-from PATH): the recipe that reruns end to end."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in ("--session-epochs", "--finalize-from"):
            skip = True
        elif a != "--resume" and not a.startswith(("--session-epochs=", "--finalize-from=")):
            out.append(a)
    return out


def start_state(args, model) -> tuple[object, dict]:
    """(model, state) for a fresh run or, with --resume, the last checkpoint and its state."""
    import keras

    state = read_state(args.out)
    if args.resume and state is not None:
        if why := recipe_difference(state["recipe"], recipe(args)):
            raise SystemExit(f"--resume: {why} (the checkpoint's vs this command's)")
        model = keras.models.load_model(args.out / LAST_CHECKPOINT)  # with optimizer state and step count
        print(f"resuming after epoch {state['epoch']} (best {state['best_epoch']})", flush=True)
    else:
        if state is not None:
            raise SystemExit(f"{args.out} holds a checkpoint: pass --resume or use another folder")
        state = {"recipe": recipe(args), "epoch": 0, "history": {}, "best_epoch": None, "wall_seconds": 0.0,
                 "sessions": []}
    state["wall_seconds_before"] = state["wall_seconds"]
    state["sessions"].append({"started": datetime.now(UTC).isoformat(timespec="seconds"),
                              "from_epoch": state["epoch"], "machine": machine_description()})
    return model, state


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    import keras

    from oculus.classify.arch import PREPROCESSING, build_model
    from oculus.classify.export import export_onnx

    started = time.time()
    init_seed = args.seed if args.init_seed is None else args.init_seed
    keras.utils.set_random_seed(init_seed)
    size = args.image_size or (144 if args.arch.startswith("compact") else 300)
    spec = PREPROCESSING[args.arch]
    args.out.mkdir(parents=True, exist_ok=True)

    final_fit = selection_run(args) if args.final_fit_from else None  # refused before the long load
    data = load_image_set(args.data_dir, spec["color_mode"], size, args.limit_per_class)
    splits = honest_splits(data.labels, data.hashes, data.looks, seed=args.seed)
    tr, va = splits.train, splits.validation
    print(f"images {len(data.labels)}  train {len(tr)}  val {len(va)}  final_test {len(splits.final_test)}  "
          f"groups {len(np.unique(splits.groups))}  load {time.time() - started:.1f}s", flush=True)
    fit_on = np.concatenate([tr, va]) if final_fit else tr
    # the validation pipeline is built either way: the ONNX export is checked on its images
    train, val = make_datasets(data.pixels[fit_on], data.labels[fit_on], data.pixels[va], data.labels[va],
                               spec, args.batch_size, init_seed)
    stop_at = final_fit["epochs"] if final_fit else args.epochs

    if args.finalize_from:
        model = keras.models.load_model(args.finalize_from, compile=False)
        state = read_state(args.finalize_from.parent) or {}
        history = {**state.get("history", {}), "best_epoch": state.get("best_epoch"), "epochs_run": state.get("epoch"),
                   "note": f"weights from checkpoint {args.finalize_from.name}"}
    else:
        model = build_model(args.arch, size, len(CLASSES))
        compile_model(model, int(np.ceil(len(fit_on) / args.batch_size)), args.epochs, args.lr)
        model, state = start_state(args, model)
        history, model = fit(model, train, None if final_fit else val, args, state, started, stop_at)
        if state["epoch"] < stop_at and not state.get("stopped_early"):
            print(f"paused after epoch {state['epoch']} of {stop_at} (best {state['best_epoch']}); "
                  f"the same command with --resume continues", flush=True)
            return 0

    val_x = np.concatenate([x.numpy() for x, _ in val])
    if final_fit:
        # the validation images are training images now: the selection run's numbers and temperature stand
        metrics = {**final_fit["validation"],
                   "note": f"measured on the selection run {final_fit['run']} (this fit trained on these images)"}
        metrics["calibration"] = {**metrics["calibration"], "temperature": round(final_fit["temperature"], 5),
                                  "method": "temperature of the selection run (fitted on its validation split)"}
    else:
        logits = np.asarray(model.predict(val_x, verbose=0))
        metrics = evaluate(logits, data.labels[va])
    print(json.dumps({k: metrics[k] for k in ("accuracy", "per_class", "confusion_matrix", "calibration")}), flush=True)

    model.save(args.out / "model.keras")
    diff = export_onnx(model, args.out / "model.onnx", check_inputs=val_x[:64])
    card = build_card(args, spec, size, data, splits, metrics, history, diff, model.count_params(), state, final_fit,
                      fit_images=int(len(fit_on)))
    (args.out / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {args.out}/card.json  val accuracy {metrics['accuracy']}  {time.time() - started:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
