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

Members without a Keras file (the fine-tuned PyTorch networks, `oculus.classify.finetune`) are
combined at the ONNX level instead: one graph holds every member's graph under its own prefix,
fed the same input (with TTA, the image and its mirror stacked on the batch axis), and a Mean
node averages their logits. Each member's weights are stored beside model.onnx in their own file
(ONNX external data, listed in the card's ``external_data``), so no file grows with the number of
members. The card then names model.onnx only, and the combined graph is checked against the mean
of the members' own ONNX outputs.

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
from oculus.classify.export import INPUT_NAME, onnx_predict
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


#: Largest |combined - mean of members| logit difference accepted for an ONNX-level ensemble.
ONNX_COMBINE_TOLERANCE = 1e-4


def onnx_ensemble(paths: list[Path], tta: bool = True):
    """One ONNX graph: mean of the member graphs' logits over {image, mirrored image if tta}.

    Each member keeps its own weights under the prefix ``m{i}_``; with TTA the image and its
    left-right mirror (a Slice with step -1 on the width axis: exact) go through each member as one
    batch of 2N, and the two halves are averaged. Inputs must be one float NHWC tensor named
    "image" and one logits output, as every exporter here writes them.
    """
    import onnx
    from onnx import TensorProto, compose, helper, numpy_helper

    members = [onnx.load(str(p)) for p in paths]
    for p, m in zip(paths, members, strict=True):
        if [i.name for i in m.graph.input] != [INPUT_NAME] or len(m.graph.output) != 1:
            raise ModelError(f"member {p} must have one input named {INPUT_NAME!r} and one output",
                             code="invalid_ensemble")
    image = members[0].graph.input[0]
    classes = members[0].graph.output[0].type.tensor_type.shape.dim[-1].dim_value
    nodes, initializers, outputs = [], [], []
    feed = INPUT_NAME
    if tta:
        initializers += [numpy_helper.from_array(np.array(v, dtype=np.int64), n) for n, v in (
            ("tta_starts", [-1]), ("tta_ends", [np.iinfo(np.int64).min]), ("tta_axes", [2]), ("tta_steps", [-1]),
            ("tta_views", [2, -1, classes]))]
        nodes += [helper.make_node("Slice", [INPUT_NAME, "tta_starts", "tta_ends", "tta_axes", "tta_steps"], ["mirrored"]),
                  helper.make_node("Concat", [INPUT_NAME, "mirrored"], ["both_views"], axis=0)]
        feed = "both_views"
    opsets: dict[str, int] = {}
    for i, member in enumerate(members):
        prefixed = compose.add_prefix(member, prefix=f"m{i}_")
        graph = prefixed.graph
        for node in graph.node:
            node.input[:] = [feed if name == f"m{i}_{INPUT_NAME}" else name for name in node.input]
        nodes += graph.node
        initializers += graph.initializer
        out = graph.output[0].name
        if tta:
            nodes += [helper.make_node("Reshape", [out, "tta_views"], [f"{out}_views"]),
                      helper.make_node("ReduceMean", [f"{out}_views"], [f"{out}_mean"], axes=[0], keepdims=0)]
            out = f"{out}_mean"
        outputs.append(out)
        for op in member.opset_import:
            opsets[op.domain] = max(opsets.get(op.domain, 0), op.version)
    if opsets.get("", 0) >= 18 and tta:
        raise ModelError("ReduceMean with an axes attribute needs opset < 18", code="invalid_ensemble")
    nodes.append(helper.make_node("Mean", outputs, ["logits"]))
    graph = helper.make_graph(nodes, "ensemble", [image], [
        helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()],
                              ir_version=max(m.ir_version for m in members), producer_name="oculus.classify.ensemble")
    onnx.checker.check_model(model)
    return model


def save_with_member_weights(model, path: Path) -> list[str]:
    """Write the combined graph to ``path`` with each member's weights in its own file beside it
    (ONNX external data, ``member{i}.onnx_data``), so no file grows with the number of members.
    Returns the weight files' names, in member order, for the card."""
    import re

    import onnx
    from onnx import external_data_helper, numpy_helper

    locations: dict[int, str] = {}
    for tensor in model.graph.initializer:
        member = re.match(r"m(\d+)_", tensor.name)
        if member is None:
            continue
        if not tensor.HasField("raw_data"):  # external data is written from raw bytes
            tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor), tensor.name))
        if len(tensor.raw_data) >= 1024:  # small constants stay inside the graph
            location = locations.setdefault(int(member.group(1)), f"member{member.group(1)}.onnx_data")
            external_data_helper.set_external_data(tensor, location=location)
    names = [locations[i] for i in sorted(locations)]
    for name in names:
        (path.parent / name).unlink(missing_ok=True)  # onnx appends to an existing data file
    onnx.save(model, str(path))
    return names


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
    from oculus.classify.train import code_version, evaluate, framework_versions, model_io_card

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
    # Keras members combine into one Keras model (exported as usual); any ONNX-only member
    # (a PyTorch fine-tune) makes it an ONNX-level ensemble
    keras_level = all("keras" in c["files"] for c in cards)

    if args.limit_per_class != base["training_data"].get("limit_per_class"):
        raise ModelError("--limit-per-class must match the members' training", code="invalid_ensemble")
    data = load_image_set(args.data_dir, spec["color_mode"], size, args.limit_per_class)
    splits = honest_splits(data.labels, data.hashes, data.looks, seed=split["seed"])
    tr, va = splits.train, splits.validation
    if (len(tr), len(va)) != (split["train"], split["validation"]):
        raise ModelError("recomputed split differs from the members' split", code="invalid_ensemble")
    y = data.labels[va]
    x = (data.pixels[va].astype(np.float32) * spec["scale"] + spec["offset"]).astype(np.float32)
    mirrored = np.ascontiguousarray(x[:, :, ::-1, :])

    # per-member logits on the image and on its mirror (exactly what the combined model averages)
    if keras_level:
        import keras

        members = [keras.models.load_model(d / c["files"]["keras"], compile=False) for d, c in zip(args.member, cards, strict=True)]
        plain = [np.asarray(m.predict(x, batch_size=64, verbose=0)) for m in members]
        flipped = [np.asarray(m.predict(mirrored, batch_size=64, verbose=0)) for m in members]
    else:
        onnx_files = [d / c["files"]["onnx"] for d, c in zip(args.member, cards, strict=True)]
        plain = [onnx_predict(f, x) for f in onnx_files]
        flipped = [onnx_predict(f, mirrored) for f in onnx_files]
    variants = {}
    for i, d in enumerate(args.member):
        variants[f"member {i} ({d.name})"] = _summary(classification_metrics(y, plain[i].argmax(1), tuple(base["classes"])))
        variants[f"member {i} ({d.name}) + flip TTA"] = _summary(
            classification_metrics(y, (plain[i] + flipped[i]).argmax(1), tuple(base["classes"])))
    if len(args.member) > 1:
        variants["ensemble"] = _summary(classification_metrics(y, np.mean(plain, 0).argmax(1), tuple(base["classes"])))
        variants["ensemble + flip TTA"] = _summary(
            classification_metrics(y, np.mean(plain + flipped, 0).argmax(1), tuple(base["classes"])))
    print(json.dumps(variants, indent=1), flush=True)

    expected = np.mean(plain + flipped if args.tta else plain, 0)
    args.out.mkdir(parents=True, exist_ok=True)
    if keras_level:
        from oculus.classify.export import export_onnx

        model = build_ensemble(members, tta=args.tta)
        logits = np.asarray(model.predict(x, batch_size=64, verbose=0))
        if np.max(np.abs(logits - expected)) > 1e-3:
            raise ModelError("wrapper output differs from the mean of member logits", code="invalid_ensemble")
        model.save(args.out / "model.keras")
        diff = export_onnx(model, args.out / "model.onnx", check_inputs=x[:64])
        files, params, check = base["files"], int(model.count_params()), base.get("export_check")
        weights = []
        frameworks = framework_versions()
    else:
        import onnx
        import onnxruntime

        tmp = args.out / "model.tmp.onnx"
        weights = save_with_member_weights(onnx_ensemble(onnx_files, tta=args.tta), tmp)
        logits = onnx_predict(tmp, x)
        diff = float(np.max(np.abs(logits - expected)))
        if diff > ONNX_COMBINE_TOLERANCE:
            tmp.unlink()
            raise ModelError(f"combined ONNX differs from the mean of member logits by {diff:.2e}", code="invalid_ensemble")
        tmp.replace(args.out / "model.onnx")
        files, params = {"onnx": "model.onnx"}, sum(int(c["architecture"]["parameters"]) for c in cards)
        check = f"combined ONNX vs the mean of the members' own ONNX logits on the {len(x)} validation images"
        frameworks = base["frameworks"] | {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}
    metrics = evaluate(logits, y)
    print(json.dumps({k: metrics[k] for k in ("accuracy", "per_class", "confusion_matrix", "calibration")}), flush=True)

    card = copy.deepcopy(base)
    for stale in ("final_test", "ood", "assessment", "selection", "no_tumor_threshold", "external_data"):
        card.pop(stale, None)  # a member's assessment and files are not the ensemble's: `assess --write` measures it again
    card.update({
        **model_io_card(spec, size, files),
        "version": args.version or datetime.now(UTC).strftime("%Y.%m.%d"),
        "temperature": metrics["calibration"]["temperature"],
        "architecture": {
            "name": f"ensemble of {len(args.member)} x {base['architecture']['name']}" + (" with flip TTA" if args.tta else ""),
            "parameters": params, "pretrained": base["architecture"].get("pretrained"),
            "why": base["architecture"]["why"] + "; the members are independent training runs (see ensemble.members), averaged"
                   + (" over the image and its left-right mirror (test-time augmentation, inside the model)" if args.tta else ""),
        },
        "ensemble": {
            "combine": "mean of logits" + (" over every member x {image, horizontally flipped image}" if args.tta else "")
                       + ("" if keras_level else " (one ONNX graph holding every member's graph)"),
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
        "export_check": check,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "frameworks": frameworks,
    })
    if card["export_check"] is None:
        del card["export_check"]
    if weights:  # the ONNX graph's weight files, which travel with model.onnx
        card["external_data"] = {"onnx": weights}
    (args.out / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {args.out}/card.json  val accuracy {metrics['accuracy']}  {time.time() - started:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
