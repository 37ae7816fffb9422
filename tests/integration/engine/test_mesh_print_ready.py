"""Every mesh of a real label map is print-ready in every mode, by CGAL's account.

CGAL (its Python bindings, an independent library) reads each mesh as an OFF file into a
``Polyhedron_3``, whose builder refuses a surface that is not a 2-manifold: an edge with more
than two faces, or two fans of faces pinched together at one vertex. Each mesh must then be
built whole (every face kept), closed, outward-oriented, free of self-intersections
(``does_self_intersect``), and no face may have zero area.
"""

from __future__ import annotations

import os
import tempfile

import nibabel as nib
import numpy as np
import pytest
from CGAL import CGAL_Polygon_mesh_processing as pmp
from CGAL.CGAL_Polyhedron_3 import Polyhedron_3

from oculus.mesh.extract import extract_meshes

MODES = {
    "default": {},
    "exact voxels": {"smoothing": False, "reduction_percent": 0},
    "reduced 90 %": {"reduction_percent": 90},
}


def polyhedron(vertices: np.ndarray, faces: np.ndarray) -> Polyhedron_3:
    """The mesh as CGAL reads it from an OFF file (written in one go: fast and exact)."""
    text = f"OFF\n{len(vertices)} {len(faces)} 0\n"
    text += ("%r %r %r\n" * len(vertices)) % tuple(vertices.astype(np.float64).ravel().tolist())
    text += ("3 %d %d %d\n" * len(faces)) % tuple(faces.ravel().tolist())
    handle, path = tempfile.mkstemp(suffix=".off")
    try:
        os.write(handle, text.encode())
        os.close(handle)
        return Polyhedron_3(path)
    finally:
        os.unlink(path)


@pytest.fixture(scope="module")
def example_seg(shared_data):
    image = nib.load(shared_data / "ct" / "example_seg.nii.gz")
    return np.asarray(image.dataobj), image.affine


@pytest.mark.parametrize("mode", list(MODES))
def test_every_mesh_is_a_closed_outward_2_manifold_without_self_intersections(example_seg, mode):
    labels, affine = example_seg
    meshes = extract_meshes(labels, affine, {}, **MODES[mode])
    assert [m.label for m in meshes] == [int(v) for v in np.unique(labels) if v]
    faults = []
    for mesh in meshes:
        solid = polyhedron(mesh.vertices, mesh.faces)
        if solid.size_of_facets() != len(mesh.faces):  # the builder stopped at a non-manifold spot
            faults.append((mesh.label, "not a 2-manifold"))
            continue
        if not solid.is_closed():
            faults.append((mesh.label, "open"))
        if not pmp.is_outward_oriented(solid):
            faults.append((mesh.label, "not outward"))
        if pmp.does_self_intersect(solid):
            faults.append((mesh.label, "self-intersecting"))
        if min(pmp.face_area(face, solid) for face in solid.facets()) <= 0.0:
            faults.append((mesh.label, "zero-area face"))
    assert faults == [], mode


def test_the_check_sees_what_it_must_refuse():
    """A pinched vertex, a hole and two interpenetrating tetrahedra are each caught."""
    tetra = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    corner = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
    pinched = polyhedron(np.vstack([corner, corner[1:] * -1.0]), np.vstack([tetra, np.where(tetra == 0, 0, tetra + 3)]))
    assert pinched.size_of_facets() < 8
    assert not polyhedron(corner, tetra[:3]).is_closed()
    overlapping = polyhedron(np.vstack([corner, corner + 0.2]), np.vstack([tetra, tetra + 4]))
    assert overlapping.size_of_facets() == 8 and pmp.does_self_intersect(overlapping)
    assert not pmp.does_self_intersect(polyhedron(corner, tetra))
