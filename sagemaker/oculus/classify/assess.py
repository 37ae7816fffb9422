"""Score a packaged model version on the final test split, through the serving runtime.

    python -m oculus.classify.assess MODEL_DIR DATA_DIR [--ct-dir ../shared/data/ct] [--write]

MODEL_DIR holds card.json + model files (e.g. sagemaker/oculus/models/brain_tumor/v1). The
splits are `oculus.classify.dataset.honest_splits` (the same for every version). This:

1. fits the out-of-distribution reference (`oculus.classify.ood`) on the training split,
   its look threshold on the validation split, and writes MODEL_DIR/ood.npz;
2. runs the model exactly as served (`load_classifier`, ONNX by default, calibrated with the
   card's temperature) on the validation and final test images;
3. chooses the card's `no_tumor_threshold` on the final test split (at most 1 % of tumour
   images answered "no tumour") and reports the resulting miss rate and review share;
4. measures the out-of-distribution check: false alarms on both splits and the verdicts on
   probes (CT slices rendered from --ct-dir at several windows, photos, a blank image,
   4000x4000 images).

Nothing else is tuned on the final test split. With --write the card gains `no_tumor_threshold`,
`ood`, `final_test` and `assessment`; without it the report is only printed.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from oculus.classify.calibration import (
    choose_no_tumor_threshold,
    classification_metrics,
    expected_calibration_error,
    safety_report,
)
from oculus.classify.dataset import CLASSES, honest_splits, load_image_set
from oculus.classify.ood import (
    CT_WINDOWS,
    REASONS,
    card_block,
    fit_reference,
    render_ct_slices,
    statistics,
)

OOD_FILE = "ood.npz"
MAX_TUMOUR_MISS = 0.01
#: Set before any measurement, from the incident in issue 13: held-out meningiomas were answered
#: "No tumour 65.8 %" and "60.7 %". Our final test split is drawn from the same sources as
#: training and can certify a lower threshold than a new source needs; "no tumour" is never
#: stated below this calibrated probability.
NO_TUMOR_FLOOR = 0.9


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m oculus.classify.assess", description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--ct-dir", type=Path, default=None, help="CT volumes (NIfTI) to render probe slices from")
    ap.add_argument("--seed", type=int, default=1337, help="split seed (as in training)")
    ap.add_argument("--write", action="store_true", help="write ood.npz and the card fields")
    return ap.parse_args(argv)


def split_metrics(probs: np.ndarray, labels: np.ndarray) -> dict:
    m = classification_metrics(labels, probs.argmax(1), CLASSES)
    m["ece"] = round(expected_calibration_error(probs, labels), 5)
    return m


def probe_images(ct_dir: Path | None, sample_mri: np.ndarray) -> list[tuple[str, str, np.ndarray]]:
    """(kind, name, image): rendered CT slices, photos, a blank image and 4000x4000 inputs."""
    from PIL import Image
    from skimage import data as photos

    probes: list[tuple[str, str, np.ndarray]] = []
    for nifti in sorted(ct_dir.glob("*.nii.gz")) if ct_dir else []:
        if "seg" in nifti.name or "_mr_" in nifti.name:
            continue  # label maps and the MR volume are not CT probes
        probes += [("ct", name, img) for name, img in render_ct_slices(nifti, CT_WINDOWS)]
    for name in ("astronaut", "chelsea", "coffee", "camera", "moon"):
        probes.append(("photo", name, np.asarray(getattr(photos, name)())))
    probes.append(("blank", "black 224x224", np.zeros((224, 224), np.uint8)))
    probes.append(("blank", "white 224x224", np.full((224, 224), 255, np.uint8)))
    first_ct = next((img for kind, _, img in probes if kind == "ct"), None)
    if first_ct is not None:
        probes.append(("large", "CT slice at 4000x4000", np.asarray(Image.fromarray(first_ct).resize((4000, 4000)))))
    probes.append(("large", "photo at 4000x4000",
                   np.asarray(Image.fromarray(photos.astronaut()).resize((4000, 4000)))))
    probes.append(("large-mri", "brain MRI slice at 4000x4000 (should be classified)",
                   np.asarray(Image.fromarray(sample_mri).resize((4000, 4000)))))
    return probes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from oculus.classify.ood import load_reference
    from oculus.classify.runtime import load_classifier
    from oculus.io import load_image

    started = time.time()
    card_path = args.model_dir / "card.json"
    # hashes and look descriptors decide the splits; pixels are not needed at this size
    data = load_image_set(args.data_dir, "grayscale", 8)
    splits = honest_splits(data.labels, data.hashes, data.looks, seed=args.seed)
    ood_stats = [statistics(load_image(p)) for p in data.paths]
    desc = np.stack([d for d, _ in ood_stats])
    clipped = np.array([s["clipped_background"] for _, s in ood_stats])
    fitted = np.concatenate([splits.train, splits.validation])
    ref = fit_reference(desc[splits.train], desc[splits.validation], clipped[fitted])
    ood_path = args.model_dir / OOD_FILE
    ref.save(ood_path if args.write else Path("/tmp") / f"assess_{OOD_FILE}")

    def false_alarms(idx: np.ndarray) -> dict:
        reasons = [ref.verdict({**ood_stats[i][1], "look_score": float(ref.score(desc[i])[0])}) for i in idx]
        flagged = [r for r in reasons if r]
        return {"n": int(len(idx)), "flagged": len(flagged), "rate": round(len(flagged) / len(idx), 4),
                "by_reason": {r: flagged.count(r) for r in sorted(set(flagged))}}

    clf = load_classifier(card_path)
    card = clf.card.data
    results: dict = {}
    for name in ("validation", "final_test"):
        idx = getattr(splits, name)
        probs = clf.probabilities([load_image(data.paths[i]) for i in idx])
        results[name] = (probs, data.labels[idx])
    probs_te, y_te = results["final_test"]
    conf_thr = clf.card.threshold
    data_thr = choose_no_tumor_threshold(probs_te, y_te, CLASSES, conf_thr, MAX_TUMOUR_MISS)
    nt_thr = max(data_thr, NO_TUMOR_FLOOR)
    plain_thr = choose_no_tumor_threshold(probs_te, y_te, CLASSES, conf_thr, MAX_TUMOUR_MISS, confidence=None)
    final = split_metrics(probs_te, y_te)
    final["safety"] = safety_report(probs_te, y_te, CLASSES, conf_thr, nt_thr)
    if "final_test" not in card.get("training_data", {}).get("split", {}):
        # trained before the three-way split: its validation side held today's final test split
        final["note"] = (f"this model's epochs, temperature (and ensemble) were picked on its own "
                         f"{card['training_data']['split'].get('validation')}-image validation split, a superset of "
                         f"this {len(y_te)}-image final test split; it never trained on these images, but the number "
                         f"is flattering for it.")
    val = split_metrics(*results["validation"])
    val["safety"] = safety_report(*results["validation"], CLASSES, conf_thr, nt_thr)
    if card.get("training", {}).get("final_fit"):
        val["note"] = ("a final fit: this model trained on these validation images, so this is not a held-out "
                       "number; the final test split is")

    probes = probe_images(args.ct_dir, load_image(data.paths[splits.final_test[0]]))
    probe_rows = []
    for kind, name, img in probes:
        reason, stats = ref.check(img)
        probe_rows.append({"kind": kind, "name": name, "shape": list(img.shape), "verdict": reason, **stats})
    by_kind: dict[str, list[int]] = {}
    for row in probe_rows:
        by_kind.setdefault(row["kind"], [0, 0])
        by_kind[row["kind"]][0] += row["verdict"] is not None
        by_kind[row["kind"]][1] += 1
    measured = {"false_ood": {"validation": false_alarms(splits.validation),
                              "final_test": false_alarms(splits.final_test)},
                "probes_flagged": {k: f"{a}/{b}" for k, (a, b) in by_kind.items()},
                "probes": probe_rows}
    # the card is re-read right before writing: it only gains fields
    report = {
        "no_tumor_threshold": nt_thr,
        "final_test": final,
        "ood": card_block(load_reference(ood_path) if args.write else ref, OOD_FILE, measured),
        "assessment": {
            "what": "the packaged model through the serving runtime (ONNX, card temperature) on the honest splits",
            "splits": splits.summary(data.labels),
            "validation": val,
            "no_tumor_threshold_rule": f"smallest calibrated no_tumor probability (4 decimals) at which the share "
                                       f"of the final test split's tumour images answered 'no tumour' is at most "
                                       f"{MAX_TUMOUR_MISS:.0%} with 95 % confidence (one-sided Clopper-Pearson "
                                       f"upper bound), and never below the floor {NO_TUMOR_FLOOR} (set a priori from "
                                       f"the 65.8 % incident); below it the answer is 'Uncertain - needs review'",
            "data_rule_threshold": data_thr,
            "floor": NO_TUMOR_FLOOR,
            "data_rule_final_test": safety_report(probs_te, y_te, CLASSES, conf_thr, data_thr),
            "point_estimate_rule": {"no_tumor_threshold": plain_thr,
                                    "final_test": safety_report(probs_te, y_te, CLASSES, conf_thr, plain_thr)},
            "reasons": REASONS,
            "command": "python -m oculus.classify.assess " + " ".join(
                shlex.quote(str(a)) for a in (sys.argv[1:] if argv is None else argv)),
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "wall_seconds": round(time.time() - started, 1),
        },
    }
    summary = {"version_dir": str(args.model_dir), "temperature": card.get("temperature"),
               "final_test": {k: final[k] for k in ("accuracy", "n", "ece", "confusion_matrix", "safety")},
               "final_test_recall": {c: v["recall"] for c, v in final["per_class"].items()},
               "validation": {k: val[k] for k in ("accuracy", "n", "ece")},
               "validation_recall": {c: v["recall"] for c, v in val["per_class"].items()},
               "no_tumor_threshold": nt_thr, "ood": {k: measured[k] for k in ("false_ood", "probes_flagged")}}
    print(json.dumps(summary, indent=1), flush=True)
    if args.write:
        current = json.loads(card_path.read_text())
        current.update(report)
        card_path.write_text(json.dumps(current, indent=2) + "\n")
        print(f"wrote {card_path} and {ood_path}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
