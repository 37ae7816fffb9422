"""Combine trained classifiers (and a horizontal-flip test-time augmentation) into ONE model.

    python -m oculus.classify.ensemble DATA_DIR -o OUT_DIR --member DIR [--member DIR ...] [--no-tta]

Each member DIR is a `oculus.classify.train` output (model.keras + card.json) trained on the
same split (same data folder, split seed, image size and preprocessing — checked). The
combined Keras model takes the usual (N, H, W, C) input, runs every member on the image and,
with TTA, on its left-right mirror, and outputs the MEAN LOGITS. It is built from stock Keras
layers only (the mirror is a fixed anti-identity Dense over the width axis, which is exact), so
`keras.models.load_model` needs no custom objects, and it is exported to ONNX through the
usual checked path: the card still names one model.onnx and one model.keras and the runtime
is unchanged. A temperature is refitted on the validation logits of the combined model.

Also evaluated and written into the card (`ensemble.variants`): every member alone, with and
without TTA, and the ensemble without TTA, all on the same validation split.
"""

from __future__ import annotations

import argparse
import copy
import json
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from oculus.classify.calibration import classification_metrics
from oculus.classify.dataset import honest_splits, load_image_set
from oculus.errors import ModelError


def mirror_block(height: int, width: int, channels: int, name: str = "mirror"):
    """A Keras sub-model flipping NHWC images left-right, from stock layers only.

    Permute width to the last axis, multiply by a fixed anti-identity matrix (each output is
    1 * one input + 0 * the rest: exact in float32), permute back.
    """
    import keras
    from keras import layers

    inp = keras.Input((height, width, channels))
    x = layers.Permute((1, 3, 2))(inp)                       # (H, C, W)
    dense = layers.Dense(width, use_bias=False, trainable=False, name=f"{name}_antiidentity")
    x = dense(x)
    x = layers.Permute((1, 3, 2))(x)                         # back to (H, W, C)
    block = keras.Model(inp, x, name=name)
    dense.set_weights([np.eye(width, dtype=np.float32)[::-1].copy()])
    return block


def build_ensemble(members: list, tta: bool = True, name: str = "ensemble"):
    """Functional model: mean of member logits over {image, mirrored image if tta}."""
    import keras
    from keras import layers

    shape = tuple(members[0].input_shape[1:])
    for m in members:
        if tuple(m.input_shape[1:]) != shape:
            raise ModelError(f"members disagree on input shape: {m.input_shape} vs {shape}", code="invalid_ensemble")
    inp = keras.Input(shape, name="image")
    views = [inp]
    if tta:
        views.append(mirror_block(*shape)(inp))
    outs = []
    for i, m in enumerate(members):
        m.name = f"member_{i}"  # unique names inside the wrapper (loaded models may share one)
        m.trainable = False
        outs += [m(v, training=False) for v in views]
    out = outs[0] if len(outs) == 1 else layers.Average(name="mean_logits")(outs)
    return keras.Model(inp, out, name=name)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m oculus.classify.ensemble", description=__doc__.split("\n\n")[0])
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--member", type=Path, action="append", required=True, help="a train output folder (repeat)")
    ap.add_argument("--limit-per-class", type=int, default=None, help="as given to the members' training (tests)")
    ap.add_argument("--no-tta", dest="tta", action="store_false", help="no horizontal-flip test-time augmentation")
    ap.add_argument("--version", default=None)
    return ap.parse_args(argv)


def _summary(metrics: dict) -> dict:
    rec = {c: v["recall"] for c, v in metrics["per_class"].items()}
    return {"accuracy": metrics["accuracy"], "min_recall": min(rec.values()), "recall": rec}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import keras

    from oculus.classify.export import export_onnx
    from oculus.classify.train import code_version, evaluate, framework_versions

    started = time.time()
    cards = [json.loads((d / "card.json").read_text()) for d in args.member]
    base = cards[0]
    for d, c in zip(args.member, cards, strict=True):
        for key in ("preprocessing", "input", "classes"):
            if c[key] != base[key]:
                raise ModelError(f"member {d} differs in {key}", code="invalid_ensemble")
        if c["training_data"]["split"] != base["training_data"]["split"]:
            raise ModelError(f"member {d} was trained on a different split", code="invalid_ensemble")
    spec, split = base["preprocessing"], base["training_data"]["split"]
    size = spec["size"][0]

    if args.limit_per_class != base["training_data"].get("limit_per_class"):
        raise ModelError("--limit-per-class must match the members' training", code="invalid_ensemble")
    data = load_image_set(args.data_dir, spec["color_mode"], size, args.limit_per_class)
    splits = honest_splits(data.labels, data.hashes, data.looks, seed=split["seed"])
    tr, va = splits.train, splits.validation
    if (len(tr), len(va)) != (split["train"], split["validation"]):
        raise ModelError("recomputed split differs from the members' split", code="invalid_ensemble")
    y = data.labels[va]
    x = data.pixels[va].astype(np.float32) * spec["scale"] + spec["offset"]

    members = [keras.models.load_model(d / "model.keras", compile=False) for d in args.member]
    # per-member logits on the image and on its mirror (exactly what the wrapper averages)
    plain = [np.asarray(m.predict(x, batch_size=64, verbose=0)) for m in members]
    flipped = [np.asarray(m.predict(x[:, :, ::-1, :], batch_size=64, verbose=0)) for m in members]
    variants = {}
    for i, d in enumerate(args.member):
        variants[f"member {i} ({d.name})"] = _summary(classification_metrics(y, plain[i].argmax(1), tuple(base["classes"])))
        variants[f"member {i} ({d.name}) + flip TTA"] = _summary(
            classification_metrics(y, (plain[i] + flipped[i]).argmax(1), tuple(base["classes"])))
    if len(members) > 1:
        variants["ensemble"] = _summary(classification_metrics(y, np.mean(plain, 0).argmax(1), tuple(base["classes"])))
        variants["ensemble + flip TTA"] = _summary(
            classification_metrics(y, np.mean(plain + flipped, 0).argmax(1), tuple(base["classes"])))
    print(json.dumps(variants, indent=1), flush=True)

    model = build_ensemble(members, tta=args.tta)
    logits = np.asarray(model.predict(x, batch_size=64, verbose=0))
    expected = np.mean(plain + flipped if args.tta else plain, 0)
    if np.max(np.abs(logits - expected)) > 1e-3:
        raise ModelError("wrapper output differs from the mean of member logits", code="invalid_ensemble")
    metrics = evaluate(logits, y)
    print(json.dumps({k: metrics[k] for k in ("accuracy", "per_class", "confusion_matrix", "calibration")}), flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / "model.keras")
    diff = export_onnx(model, args.out / "model.onnx", check_inputs=x[:64])
    card = copy.deepcopy(base)
    card.update({
        "version": args.version or datetime.now(UTC).strftime("%Y.%m.%d"),
        "temperature": metrics["calibration"]["temperature"],
        "architecture": {
            "name": f"ensemble of {len(members)} x {base['architecture']['name']}" + (" with flip TTA" if args.tta else ""),
            "parameters": int(model.count_params()), "pretrained": None,
            "why": base["architecture"]["why"] + "; the members are independent training runs (see ensemble.members), averaged"
                   + (" over the image and its left-right mirror (test-time augmentation, inside the model)" if args.tta else ""),
        },
        "ensemble": {
            "combine": "mean of logits" + (" over every member x {image, horizontally flipped image}" if args.tta else ""),
            "tta": "horizontal flip" if args.tta else None,
            "members": [{"folder": str(d), "command": c["command"], "validation_accuracy": c["validation"]["accuracy"],
                         "training": {k: c["training"].get(k) for k in ("epochs_run", "best_epoch", "wall_seconds")},
                         "date": c["date"], "code_version": c["code_version"]}
                        for d, c in zip(args.member, cards, strict=True)],
            "variants_on_validation": variants,
        },
        "training": cards[0]["training"] | {"history": None, "note": "see ensemble.members; every member uses this recipe"},
        "command": "python -m oculus.classify.ensemble "
                   + " ".join(shlex.quote(str(a)) for a in (sys.argv[1:] if argv is None else argv)),
        "validation": metrics,
        "onnx_export_max_abs_diff": diff,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "frameworks": framework_versions(),
    })
    (args.out / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {args.out}/card.json  val accuracy {metrics['accuracy']}  {time.time() - started:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
