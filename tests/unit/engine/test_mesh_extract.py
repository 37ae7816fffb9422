"""Mesh extraction fidelity on TotalSegmentator's real reference segmentation."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from oculus.colors import class_names, color_of
from oculus.mesh.extract import extract_meshes, presample_factors


# --- geometry checks, independent of the code under test ---------------------------------


def directed_edges_balanced(faces: np.ndarray) -> bool:
    """Closed, consistently wound surface: every directed edge a->b has a matching b->a."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]).astype(np.int64)
    n = int(faces.max()) + 1
    forward = np.sort(edges[:, 0] * n + edges[:, 1])
    backward = np.sort(edges[:, 1] * n + edges[:, 0])
    return bool(np.array_equal(forward, backward))


def solid_volume_and_centroid(vertices: np.ndarray, faces: np.ndarray) -> tuple[float, np.ndarray]:
    """Signed volume and centroid of the solid a closed triangle mesh bounds (tetra fan)."""
    v = vertices.astype(np.float64)
    origin = v.mean(axis=0)
    a, b, c = (v[faces[:, i]] - origin for i in range(3))
    volumes = np.einsum("ij,ij->i", a, np.cross(b, c)) / 6.0
    centres = (a + b + c) / 4.0
    total = volumes.sum()
    return float(total), (volumes[:, None] * centres).sum(axis=0) / total + origin


def voxel_centroid(labels: np.ndarray, label: int, affine: np.ndarray) -> np.ndarray:
    index = np.argwhere(labels == label).mean(axis=0)
    return affine[:3, :3] @ index + affine[:3, 3]


@pytest.fixture(scope="module")
def example_seg(shared_data):
    image = nib.load(shared_data / "ct" / "example_seg.nii.gz")
    return np.asarray(image.dataobj).astype(np.uint8), image.affine


@pytest.fixture(scope="module")
def exact_meshes(example_seg):
    labels, affine = example_seg
    return extract_meshes(labels, affine, class_names("total"), smoothing=False, reduction_percent=0, workers=1)


def test_every_structure_present_becomes_one_named_coloured_mesh(example_seg, exact_meshes):
    labels, _ = example_seg
    present = [int(v) for v in np.unique(labels) if v]
    assert len(present) == 41
    assert [m.label for m in exact_meshes] == present
    names = class_names("total")
    for mesh in exact_meshes:
        assert mesh.name == names[mesh.label]
        assert mesh.color == color_of(mesh.name)
        assert mesh.vertices.dtype == np.float32 and mesh.faces.dtype == np.int32
        assert mesh.normals.shape == mesh.vertices.shape


def test_unsmoothed_meshes_are_closed_and_enclose_the_voxel_volume(example_seg, exact_meshes):
    labels, affine = example_seg
    voxel_mm3 = abs(np.linalg.det(affine[:3, :3]))
    checked = 0
    for mesh in exact_meshes:
        assert directed_edges_balanced(mesh.faces), mesh.name
        volume, _ = solid_volume_and_centroid(mesh.vertices, mesh.faces)
        expected = np.count_nonzero(labels == mesh.label) * voxel_mm3
        assert volume > 0, mesh.name  # outward winding
        if expected >= 1000.0:  # >= 1 mL
            assert abs(volume - expected) <= 0.03 * expected, mesh.name
            checked += 1
    assert checked >= 30


def test_mesh_centroids_land_within_one_voxel_of_voxel_centroids(example_seg, exact_meshes):
    labels, affine = example_seg
    voxel = float(np.linalg.norm(affine[:3, :3], axis=0).min())
    for mesh in exact_meshes:
        _, centre = solid_volume_and_centroid(mesh.vertices, mesh.faces)
        assert np.linalg.norm(centre - voxel_centroid(labels, mesh.label, affine)) <= voxel, mesh.name


def test_vertex_normals_are_unit_and_agree_with_the_outward_winding(exact_meshes):
    # winding is outward (positive volume, above), so normals agreeing with it point outward
    for mesh in exact_meshes:
        assert np.allclose(np.linalg.norm(mesh.normals, axis=1), 1.0, atol=1e-4)
        corners = mesh.vertices[mesh.faces].astype(np.float64)
        face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        agreement = np.einsum("ij,ij->i", face_normals, mesh.normals[mesh.faces].mean(axis=1))
        assert np.mean(agreement > 0) > 0.95, mesh.name


def test_smoothed_decimated_meshes_keep_volume_and_position(example_seg):
    labels, affine = example_seg
    exact = extract_meshes(labels, affine, {}, smoothing=False, reduction_percent=0, workers=1)
    smooth = extract_meshes(labels, affine, {}, smoothing=True, reduction_percent=90, workers=2)
    voxel_mm3 = abs(np.linalg.det(affine[:3, :3]))
    voxel = float(np.linalg.norm(affine[:3, :3], axis=0).min())
    assert [m.label for m in smooth] == [m.label for m in exact]
    for coarse, fine in zip(smooth, exact):
        expected = np.count_nonzero(labels == coarse.label) * voxel_mm3
        volume, centre = solid_volume_and_centroid(coarse.vertices, coarse.faces)
        assert volume > 0, coarse.name
        assert coarse.triangle_count < fine.triangle_count or fine.triangle_count <= 200
        # >= 50 mL at 3 mm voxels and 90 % fewer triangles: within 12 % (thin costal
        # cartilage loses ~11 %, compact organs < 4 %)
        if expected >= 50_000:
            assert abs(volume - expected) <= 0.12 * expected, coarse.name
            assert np.linalg.norm(centre - voxel_centroid(labels, coarse.label, affine)) <= voxel


def test_reduction_removes_the_requested_share_of_triangles(example_seg):
    labels, affine = example_seg
    full = extract_meshes(labels, affine, {}, smoothing=True, reduction_percent=0, workers=1)
    reduced = extract_meshes(labels, affine, {}, smoothing=True, reduction_percent=80, workers=1)
    big = [(f, r) for f, r in zip(full, reduced) if f.triangle_count >= 5000]
    assert big
    for f, r in big:
        assert 0.15 <= r.triangle_count / f.triangle_count <= 0.25, f.label


def test_mirroring_affine_keeps_outward_winding_and_world_position():
    labels = np.zeros((12, 14, 10), np.uint8)
    labels[3:9, 4:11, 2:8] = 1
    labels[0:3, 0:5, 0:4] = 2  # touches the volume border: must still be closed
    flipped = np.diag([-1.5, 2.0, 2.5, 1.0])
    flipped[:3, 3] = [40.0, -10.0, 5.0]
    assert np.linalg.det(flipped[:3, :3]) < 0
    for smoothing in (False, True):
        meshes = extract_meshes(labels, flipped, {1: "liver", 2: "spleen"}, smoothing=smoothing, reduction_percent=0, workers=1)
        for mesh in meshes:
            volume, centre = solid_volume_and_centroid(mesh.vertices, mesh.faces)
            assert directed_edges_balanced(mesh.faces)
            assert volume > 0
            expected = np.count_nonzero(labels == mesh.label) * 7.5
            if not smoothing:
                assert volume == pytest.approx(expected, rel=1e-6)
                assert np.allclose(centre, voxel_centroid(labels, mesh.label, flipped), atol=1e-4)


def test_output_is_deterministic_across_worker_counts(example_seg):
    labels, affine = example_seg
    one = extract_meshes(labels, affine, {}, reduction_percent=90, workers=1)
    two = extract_meshes(labels, affine, {}, reduction_percent=90, workers=2)
    for a, b in zip(one, two, strict=True):
        assert a.vertices.tobytes() == b.vertices.tobytes()
        assert a.faces.tobytes() == b.faces.tobytes()


def test_presampling_coarsens_only_as_far_as_the_reduction_allows():
    assert presample_factors(np.diag([0.8, 0.8, 1.5, 1]), 90) == (3, 3, 2)
    assert presample_factors(np.diag([0.5, 0.5, 0.5, 1]), 90) == (3, 3, 3)
    assert presample_factors(np.diag([1.0, 1.0, 1.0, 1]), 50) == (1, 1, 1)
    assert presample_factors(np.diag([0.8, 0.8, 1.5, 1]), 99) == (10, 10, 5)


def test_presampled_large_structure_keeps_its_volume():
    # a 60 mm x 40 mm x 45 mm ellipsoid on a fine 0.8 x 0.8 x 1.5 mm grid (presampled 2x2x1)
    affine = np.diag([0.8, 0.8, 1.5, 1.0])
    i, j, k = np.ogrid[:100, :80, :40]
    labels = (((i - 50) * 0.8 / 30) ** 2 + ((j - 40) * 0.8 / 20) ** 2 + ((k - 20) * 1.5 / 22.5) ** 2 <= 1).astype(np.uint8)
    assert labels.sum() >= 20_000
    [mesh] = extract_meshes(labels, affine, {1: "liver"}, smoothing=True, reduction_percent=90, workers=1)
    volume, centre = solid_volume_and_centroid(mesh.vertices, mesh.faces)
    expected = labels.sum() * 0.96
    assert abs(volume - expected) <= 0.03 * expected
    assert np.linalg.norm(centre - voxel_centroid(labels, 1, affine)) <= 0.8
