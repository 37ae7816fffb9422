"""The shipped classifier, loaded through its model card and run on real brain-MRI slices."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from oculus.classify import DEFAULT_CARD, load_card, load_classifier
from oculus.errors import ModelError
from oculus.io import load_image

BRAIN = "brain-mri/Training"
FOLDER = {"glioma": "glioma", "meningioma": "meningioma", "no_tumor": "notumor", "pituitary": "pituitary"}
#: Fixed selection rule (decided before looking at any output): the first 3 files of each class
#: folder in sorted filename order.
PER_CLASS = 3


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
    card = load_card()
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
    for fmt in ("onnx", "keras"):
        _, path = card.model_file(fmt)
        assert path.stat().st_size < 20 * 2**20


def test_prediction_shape_and_probabilities(classifier, typical):
    answers = classifier.predict([img for _, img in typical])
    assert len(answers) == len(typical)
    for a in answers:
        assert set(a) == {"is_tumor", "predicted_class", "confidence", "probabilities", "recommendation",
                          "inconclusive", "model"}
        assert list(a["probabilities"]) == ["glioma", "meningioma", "no_tumor", "pituitary"]
        assert abs(sum(a["probabilities"].values()) - 1.0) < 1e-3
        assert a["confidence"] == max(a["probabilities"].values())
        assert "research use only" in a["recommendation"].lower()
        assert a["model"] == {"name": classifier.card.name, "version": classifier.card.version}


def test_typical_images_of_each_class_are_classified_correctly(classifier, typical):
    answers = classifier.predict([img for _, img in typical])
    got = [(cls, a["predicted_class"], a["inconclusive"]) for (cls, _), a in zip(typical, answers, strict=True)]
    assert all(true == pred and not inconclusive for true, pred, inconclusive in got), got
    assert [a["is_tumor"] for a in answers] == [cls != "no_tumor" for cls, _ in typical]


def test_batched_and_single_predictions_agree_and_rgb_equals_gray(classifier, typical):
    images = [img for _, img in typical]
    batch = classifier.predict(images)
    gray = images[0] if images[0].ndim == 2 else images[0][..., 0]
    single = classifier.classify(np.ascontiguousarray(gray))
    as_rgb = classifier.classify(np.repeat(gray[:, :, None], 3, axis=2))
    assert single["probabilities"] == batch[0]["probabilities"] == as_rgb["probabilities"]


def test_high_threshold_card_turns_answers_inconclusive(classifier, typical, tmp_path):
    """Same model, crafted card whose threshold no confidence can reach."""
    data = json.loads(DEFAULT_CARD.read_text())
    data["confidence_threshold"] = 1.01
    data["files"] = {fmt: str((DEFAULT_CARD.parent / f).resolve()) for fmt, f in data["files"].items()}
    (tmp_path / "card.json").write_text(json.dumps(data))
    strict = load_classifier(tmp_path / "card.json")
    for normal, cautious in zip(classifier.predict([i for _, i in typical]), strict.predict([i for _, i in typical]), strict=True):
        assert cautious["inconclusive"] and cautious["recommendation"].startswith("Inconclusive")
        assert "research use only" in cautious["recommendation"].lower()
        assert cautious["probabilities"] == normal["probabilities"]
        assert not normal["recommendation"].startswith("Inconclusive")


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


@pytest.mark.tensorflow
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_keras_file_of_the_shipped_model_agrees_with_onnx(classifier, typical):
    keras_clf = load_classifier(fmt="keras")
    images = [img for _, img in typical]
    a = classifier.probabilities(images)
    b = keras_clf.probabilities(images)
    assert np.max(np.abs(a - b)) < 1e-4


def test_shipped_ensemble_card_records_its_members_and_variants():
    d = load_card().data
    if "ensemble" not in d:
        pytest.skip("shipped model is a single network")
    ens = d["ensemble"]
    assert len(ens["members"]) >= 2 and all(m["command"].startswith("python -m oculus.classify.train") for m in ens["members"])
    variants = ens["variants_on_validation"]
    best_member = max(v["accuracy"] for k, v in variants.items() if k.startswith("member") and "TTA" not in k)
    # the shipped combination is the one the card's validation block measures
    key = "ensemble + flip TTA" if ens["tta"] else "ensemble"
    assert variants[key]["accuracy"] == d["validation"]["accuracy"] >= best_member
