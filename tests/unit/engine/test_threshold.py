"""The threshold fallback on real CT (and the body outline it gives non-CT volumes)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage as ndi
from totalsegmentator.map_to_binary import class_map

from oculus.segment.threshold import CLASSES, ThresholdEngine
from oculus.volume import Volume

ids = {name: i for i, name in CLASSES.items()}


def load(path, modality=None) -> Volume:
    img = nib.load(path)
    return Volume(np.asanyarray(img.dataobj), img.affine.copy(), "nifti", modality)


@pytest.fixture(scope="module")
def example_ct(shared_data) -> Volume:
    return load(shared_data / "ct" / "example_ct.nii.gz")


@pytest.fixture(scope="module")
def example_ct_seg(example_ct):
    return ThresholdEngine().segment(example_ct)


def world_centroid(mask: np.ndarray, affine: np.ndarray) -> np.ndarray:
    return affine[:3, :3] @ np.argwhere(mask).mean(axis=0) + affine[:3, 3]


def test_example_ct_has_body_skeleton_and_both_lungs(example_ct_seg):
    assert set(example_ct_seg.classes.values()) >= {"body", "skeleton", "lung_left", "lung_right"}
    assert example_ct_seg.labels.shape == (122, 101, 112)
    info = example_ct_seg.engine
    assert info.name == "threshold" and info.degraded and "approximate" in info.note


def test_lungs_are_one_plausible_component_each_on_the_correct_side(example_ct, example_ct_seg):
    labels, affine = example_ct_seg.labels, example_ct.affine
    body_x = world_centroid(labels > 0, affine)[0]
    voxel_ml = example_ct.voxel_volume_ml
    for name, side in (("lung_left", -1), ("lung_right", +1)):
        mask = labels == ids[name]
        _, n = ndi.label(mask)
        assert n == 1, name
        # This abdomen/pelvis scan holds only the lung bases (TotalSegmentator: ~42 and ~74 mL).
        assert 20 < mask.sum() * voxel_ml < 200, name
        # RAS+: the patient's right is +x.
        assert np.sign(world_centroid(mask, affine)[0] - body_x) == side, name


def test_lungs_match_totalsegmentator_reference(shared_data):
    """Dice against TotalSegmentator's own output for the small CT (same voxel grid)."""
    volume = load(shared_data / "ct" / "example_ct_sm.nii.gz")
    ours = ThresholdEngine().segment(volume).labels
    ref = np.asanyarray(nib.load(shared_data / "ct" / "example_seg.nii.gz").dataobj)
    names = {v: k for k, v in class_map["total"].items()}
    left_ref = np.isin(ref, [names["lung_upper_lobe_left"], names["lung_lower_lobe_left"]])
    right_ref = np.isin(ref, [names[n] for n in ("lung_upper_lobe_right", "lung_middle_lobe_right", "lung_lower_lobe_right")])
    for name, reference in (("lung_left", left_ref), ("lung_right", right_ref)):
        mask = ours == ids[name]
        dice = 2 * (mask & reference).sum() / (mask.sum() + reference.sum())
        assert dice > 0.8, (name, dice)


def test_body_encloses_every_structure(example_ct_seg):
    labels = example_ct_seg.labels
    outside = labels == 0
    for label, name in example_ct_seg.classes.items():
        if name == "body":
            continue
        shell = ndi.binary_dilation(labels == label) & (labels != label)
        assert outside[shell].mean() < 0.02, name


def test_skeleton_is_plausible_bone(example_ct, example_ct_seg):
    bone = example_ct_seg.labels == ids["skeleton"]
    volume_ml = bone.sum() * example_ct.voxel_volume_ml
    assert 200 < volume_ml < 2000
    hu = np.asarray(example_ct.data)[bone]
    assert np.median(hu) > 200
    # The spine and pelvis sit near the midline of the body.
    assert abs(world_centroid(bone, example_ct.affine)[0] - world_centroid(example_ct_seg.labels > 0, example_ct.affine)[0]) < 30


def test_left_and_right_come_from_world_coordinates_not_array_axes(shared_data):
    volume = load(shared_data / "ct" / "example_ct_sm.nii.gz")
    flip = np.diag([-1.0, 1.0, 1.0, 1.0])
    flip[0, 3] = volume.shape[0] - 1
    mirrored = Volume(volume.data[::-1].copy(), volume.affine @ flip, "nifti")
    assert nib.aff2axcodes(mirrored.affine)[0] == "L"
    direct = ThresholdEngine().segment(volume).labels
    via_mirror = ThresholdEngine().segment(mirrored).labels[::-1]
    assert np.array_equal(direct, via_mirror)


def test_mr_gets_the_body_outline_only_and_says_so(shared_data):
    volume = load(shared_data / "ct" / "example_mr_sm.nii.gz")
    seg = ThresholdEngine().segment(volume)
    assert seg.classes == {ids["body"]: "body"}
    assert any("Only the body outline is available" in w and "not Hounsfield units" in w for w in seg.warnings)
    assert seg.engine.degraded and "Only the body outline" in seg.engine.note
    body = seg.labels == ids["body"]
    assert ndi.label(body)[1] == 1
    # an axial abdomen MR: the body fills the middle of every slice, not the air in the corners
    centre = body[volume.shape[0] // 2, volume.shape[1] // 2, :]
    corners = body[[0, 0, -1, -1], [0, -1, 0, -1], :]
    assert centre.all() and not corners.any()
    assert 0.5 < body.mean() < 0.85


def test_declared_mr_modality_gets_a_body_outline_matching_the_ct_body(shared_data):
    """CT data labelled MR: the foreground outline must agree with the CT engine's body."""
    as_ct = ThresholdEngine().segment(load(shared_data / "ct" / "example_ct_sm.nii.gz")).labels > 0
    seg = ThresholdEngine().segment(load(shared_data / "ct" / "example_ct_sm.nii.gz", modality="MR"))
    assert set(seg.classes.values()) == {"body"}
    assert any("it is MR" in w for w in seg.warnings)
    outline = seg.labels > 0
    dice = 2 * (outline & as_ct).sum() / (outline.sum() + as_ct.sum())
    assert dice > 0.95


def test_a_blank_non_ct_volume_is_an_empty_segmentation():
    from oculus.errors import SegmentationError

    volume = Volume(np.full((20, 20, 10), 7, np.int16), np.eye(4), "nifti", "MR")
    with pytest.raises(SegmentationError) as err:
        ThresholdEngine().segment(volume)
    assert err.value.code == "empty_segmentation"


def test_phantom_without_lungs_says_so():
    """A water cylinder with a bone rod in air: body and skeleton, no lungs, and a warning."""
    i, j, k = np.indices((60, 60, 20))
    hu = np.full((60, 60, 20), -1000, np.int16)
    cylinder = (i - 30) ** 2 + (j - 30) ** 2 < 20**2
    hu[cylinder] = 0
    hu[(i - 30) ** 2 + (j - 30) ** 2 < 3**2] = 1000
    volume = Volume(hu, np.diag([2.0, 2.0, 2.0, 1.0]), "nifti", "CT")
    seg = ThresholdEngine().segment(volume)
    assert set(seg.classes.values()) == {"body", "skeleton"}
    assert (seg.labels > 0).sum() == cylinder.sum()
    assert any("No lungs" in w for w in seg.warnings)


def test_chest_ct_with_cropped_field_of_view_finds_lungs_and_trachea(shared_data):
    """Contrast chest CT reconstructed on a small field of view: lungs reach the image border."""
    volume = load(shared_data / "ct" / "ct_cropped.nii.gz")
    seg = ThresholdEngine().segment(volume)
    labels, affine = seg.labels, volume.affine
    midline_x = world_centroid(labels > 0, affine)[0]
    lung_tops = []
    for name, side in (("lung_left", -1), ("lung_right", +1)):
        mask = labels == ids[name]
        assert mask.sum() * volume.voxel_volume_ml > 500, name
        centroid = world_centroid(mask, affine)
        assert np.sign(centroid[0] - midline_x) == side, name
        lung_tops.append(centroid[2])
    trachea = labels == ids["trachea"]
    assert 10 < trachea.sum() * volume.voxel_volume_ml < 80
    centroid = world_centroid(trachea, affine)
    assert abs(centroid[0] - midline_x) < 40
    assert centroid[2] > max(lung_tops)  # above the lungs' centres
