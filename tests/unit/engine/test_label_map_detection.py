"""A label map uploaded as a scan is recognised by its content; a CT or MR never is."""

from __future__ import annotations

import numpy as np
import pytest

from oculus.io import load_volume
from oculus.io.labels import looks_like_label_map

SCANS = ["ct_brain_atlas_1mm.nii.gz", "ct_cropped.nii.gz", "example_ct.nii.gz", "example_ct_dicom",
         "example_ct_sm.nii.gz", "example_mr_sm.nii.gz"]
LABEL_MAPS = ["example_seg.nii.gz", "example_seg_dicom.nii.gz", "example_seg_fast.nii.gz"]


def test_the_lists_cover_every_volume_in_the_shared_data(shared_data):
    volumes = {p.name for p in (shared_data / "ct").iterdir() if p.name.endswith(".nii.gz") or p.is_dir()}
    assert volumes == set(SCANS) | set(LABEL_MAPS)


@pytest.mark.parametrize("name", LABEL_MAPS)
def test_label_maps_are_detected_whatever_their_voxel_type(shared_data, name):
    labels = load_volume(shared_data / "ct" / name).data
    for stored in (labels, labels.astype(np.int16), labels.astype(np.float32)):
        assert looks_like_label_map(stored)


def _non_negative_versions(data: np.ndarray) -> dict[str, np.ndarray]:
    """The scan as stored, and the forms that pass the cheap rules (no negatives, 0 the
    commonest value, at most 256 values): offset to 0 (raw CT), clipped, 8 and 6 bit."""
    values = data.astype(np.int64)
    clipped = np.clip(values, 0, None)
    versions = {"stored": data, "offset": values - values.min(), "clipped": clipped}
    for bits in (8, 6, 5, 4):
        versions[f"{bits} bit"] = np.round(clipped / clipped.max() * (2**bits - 1)).astype(np.uint8)
    return versions


@pytest.mark.parametrize("name", SCANS)
def test_scans_are_never_taken_for_label_maps(shared_data, name):
    data = load_volume(shared_data / "ct" / name).data
    for version, values in _non_negative_versions(data).items():
        assert not looks_like_label_map(values), version


def test_simple_rules():
    mask = np.zeros((40, 40, 40), np.uint8)
    mask[10:30, 10:30, 10:25] = 1
    assert looks_like_label_map(mask)  # a binary mask is a one-structure label map
    assert not looks_like_label_map(mask.astype(np.float32) + 0.5)  # fractional values
    assert not looks_like_label_map(1 - mask)  # background 0 is not the commonest value
    assert not looks_like_label_map(np.zeros((20, 20, 20), np.uint8))  # nothing labelled
    noisy = np.random.default_rng(0).integers(0, 3, (20, 20, 20)).astype(np.uint8)
    noisy[:10] = 0
    assert not looks_like_label_map(noisy)  # few values, but no flat regions
