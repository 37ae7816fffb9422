"""Dataset reading and the near-duplicate-safe stratified split."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from oculus.classify.dataset import (
    CLASSES,
    NEAR_DUPLICATE_BITS,
    dhash,
    grouped_stratified_split,
    list_images,
    near_duplicate_groups,
)
from oculus.errors import InputError

BRAIN = "brain-mri/Training"


def _hamming(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.unpackbits(a ^ b).sum())


def test_dhash_joins_a_recompressed_brightened_copy_but_not_another_slice(shared_data, tmp_path):
    files = sorted((shared_data / BRAIN / "glioma").iterdir())
    original = Image.open(files[0]).convert("L")
    copy_path = tmp_path / "copy.jpg"
    ImageEnhance.Brightness(original.resize((200, 200))).enhance(1.1).save(copy_path, quality=60)
    other = Image.open(sorted((shared_data / BRAIN / "pituitary").iterdir())[0])
    h0, h1, h2 = dhash(original), dhash(Image.open(copy_path)), dhash(other)
    assert h0.shape == (32,)  # 256 bits
    assert _hamming(h0, h1) <= NEAR_DUPLICATE_BITS < _hamming(h0, h2)


def test_groups_are_connected_components_of_close_hashes():
    base = np.zeros(32, np.uint8)
    near = base.copy()
    near[0] = 0b111         # 3 bits away
    chained = near.copy()
    chained[1] = 0b111      # 3 bits from `near`, 6 from `base`
    far = np.full(32, 0xFF, np.uint8)
    groups = near_duplicate_groups(np.stack([base, near, chained, far]), max_bits=4)
    assert groups[0] == groups[1] == groups[2] != groups[3]


def test_split_is_stratified_deterministic_and_never_splits_a_group():
    labels = np.repeat(np.arange(4), 250)
    groups = np.arange(1000)  # singletons ...
    for start in range(0, 1000, 50):  # ... plus groups of 5 twins inside each class block
        groups[start:start + 5] = start
    tr, va = grouped_stratified_split(labels, groups, 0.2, seed=7)
    tr2, va2 = grouped_stratified_split(labels, groups, 0.2, seed=7)
    assert np.array_equal(va, va2) and np.array_equal(tr, tr2)
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == 1000
    assert set(groups[tr]).isdisjoint(groups[va])
    for c in range(4):
        assert 45 <= np.sum(labels[va] == c) <= 55
    _, va3 = grouped_stratified_split(labels, groups, 0.2, seed=8)
    assert not np.array_equal(va, va3)


def test_folder_names_map_notumor_to_no_tumor(tmp_path):
    for folder in ("glioma", "meningioma", "notumor", "pituitary"):
        (tmp_path / folder).mkdir()
        Image.new("L", (8, 8)).save(tmp_path / folder / "a.png")
    paths, labels = list_images(tmp_path)
    assert [CLASSES[i] for i in labels] == ["glioma", "meningioma", "no_tumor", "pituitary"]
    assert paths[2].parent.name == "notumor"


def test_unknown_or_missing_class_folder_is_a_typed_error(tmp_path):
    (tmp_path / "glioma").mkdir()
    with pytest.raises(InputError) as err:
        list_images(tmp_path)
    assert err.value.code == "invalid_dataset"
    (tmp_path / "cats").mkdir()
    with pytest.raises(InputError, match="unknown class folder"):
        list_images(tmp_path)
