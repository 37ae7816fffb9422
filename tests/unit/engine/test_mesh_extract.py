"""Mesh extraction fidelity on TotalSegmentator's real reference segmentation."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from oculus.colors import class_names, color_of
from oculus.mesh.extract import extract_meshes, presample_factors
from oculus.mesh.fidelity import boundary_deviation
from oculus.segment.labels import present_labels

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
    for coarse, fine in zip(smooth, exact, strict=True):
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
    big = [(f, r) for f, r in zip(full, reduced, strict=True) if f.triangle_count >= 5000]
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
            # both modes fit the voxel volume and centroid (fidelity.fit_moments)
            assert volume == pytest.approx(expected, rel=1e-3)
            assert np.allclose(centre, voxel_centroid(labels, mesh.label, flipped), atol=1e-2)


def test_output_is_deterministic_across_worker_counts(example_seg):
    labels, affine = example_seg
    one = extract_meshes(labels, affine, {}, reduction_percent=90, workers=1)
    two = extract_meshes(labels, affine, {}, reduction_percent=90, workers=2)
    for a, b in zip(one, two, strict=True):
        assert a.vertices.tobytes() == b.vertices.tobytes()
        assert a.faces.tobytes() == b.faces.tobytes()


def test_presampling_coarsens_only_as_far_as_the_reduction_allows():
    assert presample_factors(np.diag([0.8, 0.8, 1.5, 1]), 90) == (4, 4, 2)
    assert presample_factors(np.diag([0.5, 0.5, 0.5, 1]), 90) == (3, 3, 3)
    assert presample_factors(np.diag([1.0, 1.0, 1.0, 1]), 50) == (1, 1, 1)
    assert presample_factors(np.diag([0.8, 0.8, 1.5, 1]), 99) == (11, 11, 6)


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


def test_fortran_ordered_label_map_gives_the_same_meshes_and_statistics(example_seg):
    # nibabel hands back Fortran-ordered arrays; they are meshed through the transposed view
    labels, affine = example_seg
    c_order = extract_meshes(np.ascontiguousarray(labels), affine, {}, workers=1)
    f_order = extract_meshes(np.asfortranarray(labels), affine, {}, workers=1)
    assert [m.label for m in c_order] == [m.label for m in f_order]
    for a, b in zip(c_order, f_order, strict=True):
        assert a.voxel_stats["box"] == b.voxel_stats["box"]
        assert np.allclose(a.voxel_stats["centroidIndex"], b.voxel_stats["centroidIndex"])
        volume_a, centre_a = solid_volume_and_centroid(a.vertices, a.faces)
        volume_b, centre_b = solid_volume_and_centroid(b.vertices, b.faces)
        assert volume_b == pytest.approx(volume_a, rel=0.01) and np.allclose(centre_a, centre_b, atol=0.5)


def test_boundary_deviation_is_the_distance_to_the_voxel_cubes():
    mask = np.zeros((5, 5, 5), bool)
    mask[1:4, 1:4, 1:4] = True  # a 3-voxel cube: its faces lie at 0.5 and 3.5
    points = np.array([[2.0, 2.0, 0.5], [2.0, 2.0, 0.8], [2.0, 3.9, 2.0], [0.2, 0.2, 2.0]])
    for point, expected in zip(points, [0.0, 0.3, 0.4, np.hypot(0.3, 0.3)], strict=True):
        voxels, mm = boundary_deviation(point[None], mask, np.diag([2.0, 2.0, 2.0]))
        assert voxels == pytest.approx(expected, abs=1e-5)
        assert mm == pytest.approx(2.0 * expected, abs=1e-4)


def test_boundary_deviation_counts_a_point_beyond_one_voxel_as_one_voxel():
    mask = np.zeros((9, 9, 9), bool)
    mask[1:8, 1:8, 1:8] = True  # faces at 0.5 and 7.5: the centre (4, 4, 4) is 3.5 voxels in
    axes = np.diag([2.0, 3.0, 4.0])
    near = np.array([[4.0, 4.0, 0.8]])  # 0.3 voxel, 1.2 mm along the third axis
    assert boundary_deviation(near, mask, axes) == pytest.approx((0.3, 1.2), abs=1e-5)
    voxels, mm = boundary_deviation(np.array([[4.0, 4.0, 4.0], [4.0, 4.0, 0.8]]), mask, axes)
    assert voxels == 1.0 and mm == pytest.approx(2.0)  # the smallest voxel edge, the bound it states


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [bool, np.uint8, np.float32])
def test_zero_padded_is_np_pad_with_zeros_in_the_same_memory_order(order, dtype):
    from oculus.mesh.boxes import zero_padded

    array = np.asarray(np.random.default_rng(3).random((4, 5, 6)) * 3, dtype=dtype, order=order)
    for width in (1, 2):
        expected, padded = np.pad(array, width), zero_padded(array, width)
        assert padded.dtype == expected.dtype and np.array_equal(padded, expected)
        assert (padded.flags.f_contiguous, padded.flags.c_contiguous) == (expected.flags.f_contiguous, expected.flags.c_contiguous)


def test_present_labels_reads_either_memory_order_without_sorting():
    labels = np.zeros((6, 7, 8), np.uint8)
    labels[1, 2, 3], labels[4, 5, 6], labels[0, 0, 7] = 9, 200, 3
    assert present_labels(labels) == present_labels(np.asfortranarray(labels)) == [3, 9, 200]
    assert present_labels(labels.astype(np.int32)) == [3, 9, 200]
    odd = labels[:3, :5, :7]  # slabs of an odd number of voxels: not read in pairs
    assert present_labels(np.ascontiguousarray(odd)) == present_labels(np.asfortranarray(odd)) == [9]



def test_tolerance_search_decimates_each_coarser_rung_from_the_finer_one_that_passed(monkeypatch):
    from oculus.mesh import extract

    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    i, j, k = np.ogrid[:60, :50, :40]
    labels = (((i - 30) / 24) ** 2 + ((j - 25) / 18) ** 2 + ((k - 20) / 15) ** 2 <= 1).astype(np.uint8)
    inputs = []
    real = extract.decimate

    def recording(vertices, faces, target):
        inputs.append(len(faces))
        return real(vertices, faces, target)

    monkeypatch.setattr(extract, "decimate", recording)
    [mesh] = extract_meshes(labels, affine, {1: "liver"}, workers=1)
    # a smooth ellipsoid passes every rung the search tries: the first reads the whole surface,
    # each later one the (smaller) surface that passed before it
    assert len(inputs) >= 2
    assert inputs[1:] == sorted(inputs[1:], reverse=True) and all(n < inputs[0] for n in inputs[1:])
    assert mesh.voxel_stats["maxDeviationVoxels"] <= extract.TOLERANCE_VOXELS
    assert directed_edges_balanced(mesh.faces)


def test_axis_profiles_count_the_voxels_at_each_index_in_any_memory_layout():
    from oculus.mesh.extract import _axis_profiles

    mask = np.random.default_rng(2).random((9, 7, 12)) > 0.6
    for layout in (mask, np.asfortranarray(mask), mask[::2, :, ::-1], np.asfortranarray(mask)[:, 1:6]):
        expected = [layout.sum(axis=axes, dtype=np.int64) for axes in ((1, 2), (0, 2), (0, 1))]
        for got, want in zip(_axis_profiles(layout), expected, strict=True):
            assert got.dtype == np.int64 and np.array_equal(got, want)
