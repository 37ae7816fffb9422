"""Images that are not brain MRI slices are answered `inconclusive` with a reason, not a tumour class.

The CT slices are rendered at test time from the real CT volumes in ../shared/data/ct (never
committed), at the display windows a viewer would use; the photos are real photographs shipped
with scikit-image.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data as photos

from oculus.classify import load_version
from oculus.classify.ood import CT_WINDOWS, REASONS, render_ct_slices
from oculus.io import load_image

BRAIN = "brain-mri/Training"
#: Abdominal / chest CT volumes (real patients).
BODY_CT = ("example_ct.nii.gz", "ct_cropped.nii.gz", "example_ct_sm.nii.gz")


@pytest.fixture(scope="module")
def classifier():
    clf = load_version()
    if clf.ood_reference is None:
        pytest.fail(f"the default model's card {clf.card.path} names no out-of-distribution reference")
    return clf


def _assert_refused(answer: dict, reason: str | None = None) -> None:
    assert answer["verdict"] == "inconclusive" and answer["inconclusive"] is True, answer
    assert answer["reason"] in REASONS.values()
    if reason is not None:
        assert answer["reason"] == REASONS[reason]
    assert answer["recommendation"].startswith("Inconclusive:") and answer["reason"] in answer["recommendation"]
    assert "no sign of a glioma" not in answer["recommendation"]


@pytest.mark.parametrize("volume", BODY_CT)
def test_body_ct_slices_are_inconclusive(classifier, shared_data, volume):
    """Soft-tissue and bone windows: every slice refused. Lung window (air is not clipped to black
    there, so only the look score can tell): at least two of three. The card lists every probe."""
    slices = render_ct_slices(shared_data / "ct" / volume, CT_WINDOWS, count=3)
    answers = classifier.predict([img for _, img in slices])
    verdicts = {name: a["verdict"] for (name, _), a in zip(slices, answers, strict=True)}
    for (name, _), a in zip(slices, answers, strict=True):
        if ":soft_tissue:" in name or ":bone:" in name:
            _assert_refused(a)
    lung = [v for n, v in verdicts.items() if ":lung:" in n]
    assert lung.count("inconclusive") >= 2, verdicts
    assert list(verdicts.values()).count("inconclusive") >= 0.9 * len(verdicts), verdicts


def test_a_ct_slice_saved_as_png_and_read_back_is_inconclusive(classifier, shared_data, tmp_path):
    name, img = render_ct_slices(shared_data / "ct" / "example_ct.nii.gz", {"soft": CT_WINDOWS["soft_tissue"]}, 1)[0]
    Image.fromarray(img).save(tmp_path / "ct.png")
    _assert_refused(classifier.classify(load_image(tmp_path / "ct.png")))


@pytest.mark.parametrize("photo", ["astronaut", "chelsea", "coffee"])
def test_colour_photographs_are_inconclusive(classifier, photo):
    _assert_refused(classifier.classify(getattr(photos, photo)()), "colour")


@pytest.mark.parametrize("level", [0, 128, 255])
def test_blank_images_are_inconclusive(classifier, level):
    _assert_refused(classifier.classify(np.full((256, 256), level, np.uint8)), "blank")


def test_a_4000_pixel_ct_slice_is_inconclusive_and_a_4000_pixel_mri_is_still_read(classifier, shared_data):
    _, ct = render_ct_slices(shared_data / "ct" / "ct_cropped.nii.gz", {"soft": CT_WINDOWS["soft_tissue"]}, 1)[0]
    _assert_refused(classifier.classify(np.asarray(Image.fromarray(ct).resize((4000, 4000)))))
    mri = load_image(sorted((shared_data / BRAIN / "pituitary").iterdir())[0])
    small, big = classifier.classify(mri), classifier.classify(np.asarray(Image.fromarray(mri).resize((4000, 4000))))
    assert big["verdict"] != "inconclusive" and big["predicted_class"] == small["predicted_class"] == "pituitary"


def test_typical_brain_mri_slices_are_not_refused(classifier, shared_data):
    """Fixed rule decided before looking: the first 10 files of each class folder."""
    images = [load_image(p) for folder in ("glioma", "meningioma", "notumor", "pituitary")
              for p in sorted((shared_data / BRAIN / folder).iterdir())[:10]]
    assert [a["verdict"] for a in classifier.predict(images)].count("inconclusive") == 0
