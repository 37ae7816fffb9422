"""report statistics: label_statistics on a label map small enough to measure by hand, the
intensity distribution against plain numpy, mesh_statistics against label_statistics, and the
mesh surface area against trimesh."""

from __future__ import annotations

import numpy as np
import pytest

from oculus.mesh.extract import extract_meshes
from oculus.mesh.model import surface_area_mm2
from oculus.report import build_report, label_statistics, mesh_statistics
from oculus.segment.base import EngineInfo, Segmentation
from oculus.volume import Volume


@pytest.fixture
def hand_built():
    """Label 2 at voxels (0,1,2) and (2,1,2), label 5 at (1,3,4); x axis flipped."""
    labels = np.zeros((3, 4, 5), np.uint8)
    intensity = np.full(labels.shape, 999.0)  # background values must not leak in
    labels[0, 1, 2], intensity[0, 1, 2] = 2, 10.0
    labels[2, 1, 2], intensity[2, 1, 2] = 2, 30.0
    labels[1, 3, 4], intensity[1, 3, 4] = 5, -7.0
    # voxel 2 x 0.5 x 3 mm = 3 mm³ = 0.003 mL; world = (-2 i + 10, 0.5 j - 20, 3 k + 5)
    affine = np.array([[-2.0, 0, 0, 10], [0, 0.5, 0, -20], [0, 0, 3.0, 5], [0, 0, 0, 1]])
    return labels, intensity, affine


def test_measures_each_label_as_worked_out_by_hand(hand_built):
    stats = label_statistics(*hand_built)
    assert sorted(stats) == [2, 5]
    assert stats[2] == {
        "voxelCount": 2,
        "volumeMl": 0.006,
        "meanIntensity": 20.0,
        "stdIntensity": 10.0,  # population standard deviation of 10 and 30
        # linear interpolation between the two values: 10 + 0.05 x 20, 10 + 0.95 x 20
        "minIntensity": 10.0, "p5Intensity": 11.0, "medianIntensity": 20.0, "p95Intensity": 29.0,
        "maxIntensity": 30.0,
        "centroidMm": [8.0, -19.5, 11.0],  # voxel (1, 1, 2)
        # voxel faces: i from -0.5 to 2.5 (x 11 .. 5, flipped), j 0.5 .. 1.5, k 1.5 .. 2.5
        "bboxMinMm": [5.0, -19.75, 9.5],
        "bboxMaxMm": [11.0, -19.25, 12.5],
        "touchesBorder": True,  # i = 0 is the first slice
    }
    assert stats[5] == {
        "voxelCount": 1,
        "volumeMl": 0.003,
        "meanIntensity": -7.0,
        "stdIntensity": 0.0,
        "minIntensity": -7.0, "p5Intensity": -7.0, "medianIntensity": -7.0, "p95Intensity": -7.0,
        "maxIntensity": -7.0,
        "centroidMm": [8.0, -18.5, 17.0],
        "bboxMinMm": [7.0, -18.75, 15.5],
        "bboxMaxMm": [9.0, -18.25, 18.5],
        "touchesBorder": True,  # j = 3 and k = 4 are the last row and column
    }


def test_without_intensities_only_the_geometry_is_measured(hand_built):
    labels, _, affine = hand_built
    stats = label_statistics(labels, None, affine)
    distribution = ("meanIntensity", "stdIntensity", "minIntensity", "maxIntensity", "medianIntensity",
                    "p5Intensity", "p95Intensity")
    assert all(stats[2][key] is None for key in distribution)
    assert stats[2]["voxelCount"] == 2 and stats[5]["centroidMm"] == [8.0, -18.5, 17.0]


def test_an_empty_map_has_no_entries():
    assert label_statistics(np.zeros((2, 2, 2), np.uint8), None, np.eye(4)) == {}


def test_only_a_structure_that_reaches_an_edge_touches_the_border():
    labels = np.zeros((5, 6, 7), np.uint8)
    labels[1:4, 1:5, 1:6] = 1  # inside, one voxel from every edge
    labels[2, 2, 6] = 2  # last column
    labels[0, 3, 3] = 3  # first slice
    stats = label_statistics(labels, None, np.eye(4))
    assert [stats[label]["touchesBorder"] for label in (1, 2, 3)] == [False, True, True]


@pytest.fixture(scope="module")
def random_case():
    """Blocks and scattered voxels of four labels over random integer 'HU'."""
    rng = np.random.default_rng(7)
    labels = np.zeros((20, 22, 24), np.uint8)
    labels[2:9, 3:12, 4:15] = 1
    labels[10:18, 2:20, 5:19] = 2
    labels[4:7, 14:20, 16:23] = 3
    labels[rng.random(labels.shape) < 0.01] = 4  # scattered, reaching the edges
    intensity = rng.integers(-1000, 1500, labels.shape).astype(np.int16)
    affine = np.array([[0.8, 0, 0, -10], [0, -0.7, 0, 5], [0, 0, 1.5, 30], [0, 0, 0, 1]])
    return labels, intensity, affine


def test_the_distribution_matches_numpy_over_a_full_mask(random_case):
    labels, intensity, affine = random_case
    stats = label_statistics(labels, intensity, affine)
    for label in (1, 2, 3, 4):
        values = intensity[labels == label].astype(np.float64)
        p5, median, p95 = np.percentile(values, [5, 50, 95])
        entry = stats[label]
        assert entry["minIntensity"] == values.min() and entry["maxIntensity"] == values.max()
        assert entry["medianIntensity"] == pytest.approx(median, abs=1e-3)
        assert entry["p5Intensity"] == pytest.approx(p5, abs=1e-3)
        assert entry["p95Intensity"] == pytest.approx(p95, abs=1e-3)
        assert entry["meanIntensity"] == pytest.approx(values.mean(), abs=1e-3)
    assert [stats[label]["touchesBorder"] for label in (1, 2, 3, 4)] == [False, False, False, True]


@pytest.fixture(scope="module")
def meshed(random_case):
    labels, intensity, affine = random_case
    meshes = extract_meshes(labels, affine, {1: "liver", 2: "spleen", 3: "aorta"}, intensity=intensity, workers=1)
    return meshes


def test_mesh_statistics_agree_with_label_statistics(random_case, meshed):
    labels, intensity, affine = random_case
    from_meshes = mesh_statistics(meshed, affine, labels, intensity)
    from_labels = label_statistics(labels, intensity, affine)
    assert sorted(from_meshes) == sorted(from_labels) == [1, 2, 3, 4]
    for label, expected in from_labels.items():
        measured = {k: v for k, v in from_meshes[label].items() if not k.startswith("maxDeviation")}
        assert measured.keys() == expected.keys()
        for key, value in expected.items():
            assert measured[key] == pytest.approx(value, abs=2e-3), (label, key)


def test_the_surface_area_is_trimeshs(random_case, meshed):
    trimesh = pytest.importorskip("trimesh")
    labels, intensity, affine = random_case
    volume = Volume(intensity, affine, "nifti", "CT")
    segmentation = Segmentation(labels, affine, {1: "liver"}, EngineInfo("labels", "0", "total"))
    report = build_report(volume, segmentation, meshed, mesh_statistics(meshed, affine, labels, intensity),
                          options={}, intensity_unit="HU")
    for mesh, entry in zip(meshed, report["structures"], strict=True):
        expected = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).area
        assert entry["surfaceAreaMm2"] == pytest.approx(expected, abs=0.01), mesh.name


def test_a_cubes_surface_area_is_its_six_faces():
    # two triangles per face of a 2 x 3 x 4 mm box: 2 (6 + 8 + 12) mm²
    corners = np.array([[x, y, z] for x in (0, 2) for y in (0, 3) for z in (0, 4)], dtype=np.float32)
    faces = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                      [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
    assert surface_area_mm2(corners, faces) == pytest.approx(52.0)


def test_a_fortran_ordered_map_gives_the_same_numbers(random_case):
    labels, intensity, affine = random_case
    fortran = label_statistics(np.asfortranarray(labels), np.asfortranarray(intensity), affine)
    assert fortran == label_statistics(labels, intensity, affine)
