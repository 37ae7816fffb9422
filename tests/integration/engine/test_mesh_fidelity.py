"""Meshes a user gets from `oculus mesh` are print-ready and keep the anatomy, in every mode.

Run as a user runs it (the CLI on a NIfTI file from disk, STL files written), and checked with
trimesh, an independent library: it reads each STL as a triangle soup and merges vertices by
position, as a slicer or MeshLab does, so two surfaces that merely touch count as touching.
"""

from __future__ import annotations

import json
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
import trimesh

MODES = {
    "default": [],
    "exact voxels": ["--no-smoothing", "--reduction-percent", "0"],
    "reduced 90 %": ["--reduction-percent", "90"],
}


@pytest.fixture(scope="module")
def example_seg(shared_data):
    image = nib.load(shared_data / "ct" / "example_seg.nii.gz")
    return np.asarray(image.dataobj).astype(np.int64), image.affine


@pytest.fixture(scope="module", params=list(MODES))
def meshed(request, shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param.replace(" ", "_").replace("%", "pc"))
    done = subprocess.run(
        [sys.executable, "-m", "oculus.cli", "mesh", str(shared_data / "ct" / "example_seg.nii.gz"),
         "-o", str(out), "--stl", *MODES[request.param]],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text())
    meshes = {}
    for path in (out / "stl").glob("*.stl"):
        label = int(path.read_bytes()[:80].decode().split(" label ")[1].split()[0])
        meshes[label] = trimesh.load(path, force="mesh")
    return request.param, report, meshes


def test_every_structure_is_a_closed_consistently_wound_solid(meshed, example_seg):
    mode, report, meshes = meshed
    labels, _ = example_seg
    assert sorted(meshes) == [int(v) for v in np.unique(labels) if v] == [s["label"] for s in report["structures"]]
    for label, mesh in meshes.items():
        assert mesh.is_watertight, (mode, label)
        assert mesh.is_winding_consistent, (mode, label)
        assert mesh.volume > 0, (mode, label)  # outward
        assert mesh.nondegenerate_faces(height=1e-6).all(), (mode, label)


def test_volume_and_centroid_match_the_voxels(meshed, example_seg):
    mode, _, meshes = meshed
    labels, affine = example_seg
    voxel_mm3 = abs(np.linalg.det(affine[:3, :3]))
    voxel_mm = float(np.linalg.norm(affine[:3, :3], axis=0).min())
    errors = []
    for label, mesh in meshes.items():
        index = np.argwhere(labels == label)
        expected = len(index) * voxel_mm3
        if expected < 1000.0:  # < 1 mL: a few voxels, no meaningful surface
            continue
        errors.append(abs(mesh.volume / expected - 1.0))
        centroid = affine[:3, :3] @ index.mean(axis=0) + affine[:3, 3]
        if mode != "reduced 90 %":  # an explicit override promises the triangle count only
            assert errors[-1] <= 0.05, (mode, label, mesh.volume / expected - 1.0)
            assert np.linalg.norm(mesh.center_mass - centroid) <= 0.5 * voxel_mm, (mode, label)
    assert len(errors) == 40
    assert np.median(errors) <= (0.02 if mode != "reduced 90 %" else 0.05), mode


def test_default_decimation_stays_within_its_tolerance_and_says_so(meshed):
    mode, report, meshes = meshed
    for entry in report["structures"]:
        assert entry["triangles"] == len(meshes[entry["label"]].faces)
        assert entry["maxDeviationMm"] >= 0
        if mode == "default":
            # the tolerance is half a voxel; a structure whose smoothed surface alone is past it
            # keeps all its triangles, and still lies within one voxel
            assert entry["maxDeviationVoxels"] <= 1.0, entry["name"]
    if mode == "default":
        within = [e for e in report["structures"] if e["maxDeviationVoxels"] <= 0.5]
        assert len(within) >= 0.75 * len(report["structures"])
