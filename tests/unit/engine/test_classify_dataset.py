"""Dataset reading and the near-duplicate-safe stratified split."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from oculus.classify.dataset import (
    CLASSES,
    LEGACY_VAL_FRACTION,
    LOOK_FEATURES,
    NEAR_DUPLICATE_BITS,
    dhash,
    grouped_stratified_split,
    honest_splits,
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


def test_honest_splits_are_disjoint_keep_v1s_training_side_and_stratify_the_test_by_look():
    rng = np.random.default_rng(3)
    n = 1200
    labels = np.repeat(np.arange(4), n // 4)
    hashes = rng.integers(0, 256, (n, 32), dtype=np.uint8)  # random 256-bit hashes: ~128 bits apart
    for start in range(0, n, 40):  # near-duplicate pairs inside each class
        hashes[start + 1] = hashes[start]
    # two acquisition looks per class, far apart in every look feature
    true_look = np.arange(n) % 3 == 0
    looks = np.where(true_look[:, None], 1.0, 0.0) + rng.normal(0, 0.01, (n, len(LOOK_FEATURES)))
    s = honest_splits(labels, hashes, looks.astype(np.float32), seed=11)
    parts = (s.train, s.validation, s.final_test)
    assert sum(len(p) for p in parts) == n and len(np.unique(np.concatenate(parts))) == n
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert set(s.groups[parts[a]]).isdisjoint(s.groups[parts[b]])
    legacy_train, legacy_val = grouped_stratified_split(labels, s.groups, LEGACY_VAL_FRACTION, 11)
    assert np.array_equal(s.train, legacy_train)  # v1's training side, so the test split is unseen by v1
    assert set(s.final_test) | set(s.validation) == set(legacy_val)
    for k in np.unique(s.look):  # no look cluster mixes the two looks ...
        assert len(set(true_look[s.look == k])) == 1
    for c in range(4):  # ... and every class x look stratum is split about evenly
        for k in np.unique(s.look):
            held = np.sum((labels[legacy_val] == c) & (s.look[legacy_val] == k))
            in_test = np.sum((labels[s.final_test] == c) & (s.look[s.final_test] == k))
            assert abs(in_test - held / 2) <= 2, (c, k, held, in_test)
    summary = s.summary(labels)
    assert summary["final_test"]["images"] == len(s.final_test)
    assert sum(summary["validation"]["per_class"].values()) == len(s.validation)
