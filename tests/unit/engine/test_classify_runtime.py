"""The shipped classifier, loaded through its model card and run on real brain-MRI slices."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from oculus.classify import (
    available_versions,
    card_path,
    default_version,
    load_card,
    load_classifier,
)
from oculus.errors import ModelError
from oculus.io import load_image

BRAIN = "brain-mri/Training"
FOLDER = {"glioma": "glioma", "meningioma": "meningioma", "no_tumor": "notumor", "pituitary": "pituitary"}
#: Fixed selection rule (decided before looking at any output): the first 3 files of each class
#: folder in sorted filename order.
PER_CLASS = 3
#: the shipped default version's card (oculus.classify.registry)
DEFAULT_CARD = card_path()


@pytest.fixture(scope="module")
def classifier():
    return load_classifier()


@pytest.fixture(scope="module")
def typical(shared_data):
    picked = []
    for cls, folder in FOLDER.items():
        for path in sorted((shared_data / BRAIN / folder).iterdir())[:PER_CLASS]:
            picked.append((cls, load_image(path)))
    return picked


def test_shipped_card_describes_the_model_completely():
    card = load_card(DEFAULT_CARD)
    assert card.path == DEFAULT_CARD
    d = card.data
    assert card.classes == ["glioma", "meningioma", "no_tumor", "pituitary"]
    for key in ("input", "preprocessing", "training_data", "validation", "temperature", "date", "code_version",
                "frameworks", "command"):
        assert key in d, key
    assert set(d["validation"]["per_class"]) == set(card.classes)
    assert {"precision", "recall", "f1"} <= set(d["validation"]["per_class"]["glioma"])
    assert {"ece_before", "ece_after"} <= set(d["validation"]["calibration"])
    assert np.array(d["validation"]["confusion_matrix"]).sum() == d["training_data"]["split"]["validation"]
    assert "onnx" in d["files"]  # what the runtime serves by default
    # a PyTorch-trained version ships ONNX only; issue 13 bounds a version's model files at 50 MB
    assert sum(f.stat().st_size for fmt in d["files"] for f in card.model_files(fmt)) <= 50 * 10**6


def test_prediction_shape_and_probabilities(classifier, typical):
    answers = classifier.predict([img for _, img in typical])
    assert len(answers) == len(typical)
    for a in answers:
        assert set(a) == {"is_tumor", "predicted_class", "confidence", "probabilities", "recommendation",
                          "inconclusive", "model", "verdict", "reason", "top2"}
        assert a["verdict"] in ("tumor", "no_tumor", "needs_review", "inconclusive")
        assert a["inconclusive"] == (a["verdict"] in ("needs_review", "inconclusive"))
        assert [t["class"] for t in a["top2"]][0] == a["predicted_class"]
        assert a["top2"][0]["probability"] >= a["top2"][1]["probability"]
        assert list(a["probabilities"]) == ["glioma", "meningioma", "no_tumor", "pituitary"]
        assert abs(sum(a["probabilities"].values()) - 1.0) < 1e-3
        assert a["confidence"] == max(a["probabilities"].values())
        assert "research use only" in a["recommendation"].lower()
        assert a["model"] == {"name": classifier.card.name, "version": classifier.card.version}


def test_typical_images_of_each_class_are_classified_correctly(classifier, typical):
    answers = classifier.predict([img for _, img in typical])
    got = [(cls, a["predicted_class"], a["verdict"]) for (cls, _), a in zip(typical, answers, strict=True)]
    # a tumour is stated; "no tumour" only above the card's no_tumor_threshold (v3: 0.949), so a
    # no-tumour image may go to review instead, with its class still on top, never to a tumour
    allowed = {"glioma": {"tumor"}, "meningioma": {"tumor"}, "pituitary": {"tumor"}, "no_tumor": {"no_tumor", "needs_review"}}
    assert all(true == pred and verdict in allowed[true] for true, pred, verdict in got), got
    assert ("no_tumor", "no_tumor", "no_tumor") in got  # "no tumour" is still said where it is clear
    assert [a["is_tumor"] for a in answers] == [cls != "no_tumor" for cls, _ in typical]


def test_batched_and_single_predictions_agree_and_rgb_equals_gray(classifier, typical):
    images = [img for _, img in typical]
    batch = classifier.predict(images)
    gray = images[0] if images[0].ndim == 2 else images[0][..., 0]
    single = classifier.classify(np.ascontiguousarray(gray))
    as_rgb = classifier.classify(np.repeat(gray[:, :, None], 3, axis=2))
    assert single["probabilities"] == batch[0]["probabilities"] == as_rgb["probabilities"]


def _crafted_card(tmp_path, **changes):
    """The shipped card with some fields changed, its model (and OOD reference) files still used."""
    data = json.loads(DEFAULT_CARD.read_text())
    data.update(changes)
    data["files"] = {fmt: str((DEFAULT_CARD.parent / f).resolve()) for fmt, f in data["files"].items()}
    if data.get("ood"):
        data["ood"] = {**data["ood"], "file": str((DEFAULT_CARD.parent / data["ood"]["file"]).resolve())}
    (tmp_path / "card.json").write_text(json.dumps(data))
    return load_classifier(tmp_path / "card.json")


def test_high_threshold_card_turns_answers_to_needs_review(classifier, typical, tmp_path):
    """Same model, crafted card whose threshold no confidence can reach."""
    strict = _crafted_card(tmp_path, confidence_threshold=1.01)
    for normal, cautious in zip(classifier.predict([i for _, i in typical]), strict.predict([i for _, i in typical]), strict=True):
        assert cautious["verdict"] == "needs_review" and cautious["inconclusive"]
        assert cautious["recommendation"].startswith("Uncertain — needs review")
        assert "below its 101% threshold" in cautious["reason"]
        assert "research use only" in cautious["recommendation"].lower()
        assert cautious["probabilities"] == normal["probabilities"]
        # the real card: a stated answer, or a no-tumour image below its no_tumor_threshold
        assert (normal["verdict"] in ("tumor", "no_tumor") and normal["reason"] is None) or (
            normal["verdict"] == "needs_review" and normal["predicted_class"] == "no_tumor"
            and "'No tumour' is stated only above" in normal["reason"])


def test_no_tumour_is_said_only_above_the_no_tumour_threshold(classifier, typical, tmp_path):
    """A no_tumor answer below the card's no_tumor_threshold becomes 'needs review' naming the top two
    classes; tumour answers are untouched."""
    cautious = _crafted_card(tmp_path, no_tumor_threshold=0.9999999)
    for (cls, _), normal, a in zip(typical, classifier.predict([i for _, i in typical]),
                                   cautious.predict([i for _, i in typical]), strict=True):
        if cls == "no_tumor":
            assert normal["verdict"] in ("no_tumor", "needs_review") and a["verdict"] == "needs_review"
            first, second = (t["class"] for t in a["top2"])
            assert first == "no_tumor" and second != "no_tumor"
            readable = {"glioma": "a glioma", "meningioma": "a meningioma", "pituitary": "a pituitary tumour"}
            assert a["recommendation"].startswith("Uncertain — needs review") and readable[second] in a["recommendation"]
            assert "no sign" not in a["recommendation"] and "'No tumour' is stated only above" in a["reason"]
        else:
            assert {k: v for k, v in a.items() if k != "model"} == {k: v for k, v in normal.items() if k != "model"}


def test_model_info_reports_measured_accuracy_and_calibration(classifier):
    info = classifier.model_info()
    assert info["name"] == classifier.card.name and info["format"] == "onnx"
    assert info["classes"] == ["glioma", "meningioma", "no_tumor", "pituitary"]
    assert info["input"]["shape"][-1] == 1
    assert 0 < info["measured"]["accuracy"] <= 1 and set(info["measured"]["recall"]) == set(info["classes"])
    assert info["calibration"]["temperature"] > 0 and "ece_after" in info["calibration"]
    json.dumps(info)


def test_broken_cards_are_typed_errors(tmp_path):
    with pytest.raises(ModelError) as err:
        load_classifier(tmp_path / "nope.json")
    assert err.value.code == "model_missing"
    data = json.loads(DEFAULT_CARD.read_text())
    (tmp_path / "bad.json").write_text(json.dumps({**data, "classes": ["cat", "dog", "fish", "bird"]}))
    with pytest.raises(ModelError) as err:
        load_card(tmp_path / "bad.json")
    assert err.value.code == "model_card_invalid"
    shutil.copy(DEFAULT_CARD, tmp_path / "card.json")  # card without its model files next to it
    with pytest.raises(ModelError) as err:
        load_classifier(tmp_path / "card.json")
    assert err.value.code == "model_missing"
    with pytest.raises(ModelError) as err:
        load_classifier(DEFAULT_CARD, fmt="tflite")
    assert err.value.code == "model_format_unavailable"


KERAS_VERSIONS = [v for v in available_versions() if "keras" in load_card(card_path(v)).data["files"]]


@pytest.mark.tensorflow
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
@pytest.mark.parametrize("version", KERAS_VERSIONS)
def test_keras_file_of_each_shipped_version_agrees_with_onnx(version, typical):
    images = [img for _, img in typical]
    a = load_classifier(version=version).probabilities(images)
    b = load_classifier(version=version, fmt="keras").probabilities(images)
    assert np.max(np.abs(a - b)) < 1e-4


ENSEMBLE_VERSIONS = [v for v in available_versions() if "ensemble" in load_card(card_path(v)).data]


def test_an_ensemble_is_served():
    # the first release's model, kept as v1; v5 (two fine-tuned Lite0 runs) and v6, the default since
    # 2026-11-30 (three)
    assert ENSEMBLE_VERSIONS == ["v1", "v5", "v6"]
    assert default_version() == "v6"
    assert [v for v in available_versions() if load_card(card_path(v)).data.get("selection", {}).get("default")] == ["v6"]


@pytest.mark.parametrize("version", ENSEMBLE_VERSIONS)
def test_served_ensemble_card_records_its_members_and_variants(version):
    d = load_card(card_path(version)).data
    ens = d["ensemble"]
    assert len(ens["members"]) >= 2
    # every member is a run of a recorded command of this repository (no member from an older script)
    assert all(m["command"].startswith(("python -m oculus.classify.train ", "python -m oculus.classify.finetune "))
               for m in ens["members"])
    variants = ens["variants_on_validation"]
    best_member = max(v["accuracy"] for k, v in variants.items() if k.startswith("member") and "TTA" not in k)
    # the shipped combination is the one the card's validation block measures
    key = "ensemble + flip TTA" if ens["tta"] else "ensemble"
    assert variants[key]["accuracy"] == d["validation"]["accuracy"]
    # and it beat every member alone on validation, unless the rule written before the run said why
    # a member alone was not a candidate (v6: one seed's validation does not predict its final test)
    assert d["validation"]["accuracy"] >= best_member or "alone is not a candidate" in d["selection"]["rule"]


@pytest.mark.parametrize("version", available_versions())
def test_every_served_card_carries_its_safety_threshold_ood_reference_and_final_test(version):
    card = load_card(card_path(version))
    d = card.data
    assert 0.55 <= card.no_tumor_threshold <= 1.0
    assert card.ood_file is not None and card.ood_file.is_file()
    assert {"look_threshold", "clipped_background", "measured"} <= set(d["ood"])
    assert d["ood"]["measured"]["false_ood"]["final_test"]["rate"] <= 0.01
    final = d["final_test"]
    assert np.array(final["confusion_matrix"]).sum() == final["n"] == d["assessment"]["splits"]["final_test"]["images"]
    assert final["safety"]["tumour_miss_rate"] <= 0.01 and 0 <= final["safety"]["needs_review_share"] <= 1
    assert "ece" in final and set(final["per_class"]) == set(card.classes)
    assert d["onnx_export_max_abs_diff"] <= 1e-5  # issue 13: Keras and ONNX agree within 1e-5


@pytest.mark.parametrize(("p", "text"), [(0.9981, "99.8%"), (0.9996, "> 99.9%"), (1.0, "> 99.9%"), (0.55, "55.0%"),
                                         (0.0004, "< 0.1%"), (0.0, "< 0.1%"), (0.658, "65.8%")])
def test_probabilities_are_never_rounded_to_certainty(p, text):
    """A model's 99.8 % is not "100 %": the recommendation says what the calibrated number says."""
    from oculus.classify.runtime import percent, recommendation

    assert percent(p) == text
    top2 = [{"class": "meningioma", "probability": p}, {"class": "glioma", "probability": 1 - p}]
    assert f"({text} confidence)" in recommendation("tumor", top2)


@pytest.mark.parametrize("version", [v for v in available_versions() if load_card(card_path(v)).data.get("external_data")])
def test_a_cards_weight_files_are_the_ones_its_graph_reads(version, tmp_path):
    """The card lists exactly the external data files model.onnx names, and a missing one is a clear
    model_missing error, not an onnxruntime failure."""
    import onnx

    card = load_card(card_path(version))
    _, path = card.model_file("onnx")
    graph = onnx.load(str(path), load_external_data=False)
    named = {e.value for t in graph.graph.initializer for e in t.external_data if e.key == "location"}
    assert sorted(named) == sorted(card.data["external_data"]["onnx"])
    assert all(f.stat().st_size < 20 * 2**20 for f in card.model_files("onnx"))

    for f in [card.path, *card.model_files("onnx")[:1], *card.model_files("onnx")[2:]]:  # member0's weights left out
        shutil.copy(f, tmp_path / f.name)
    with pytest.raises(ModelError) as err:
        load_card(tmp_path / "card.json").model_file("onnx")
    assert err.value.code == "model_missing" and "member0.onnx_data" in str(err.value)
