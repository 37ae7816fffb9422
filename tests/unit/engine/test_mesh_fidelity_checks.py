"""The engine's own print-readiness checks refuse what a slicer or CGAL refuses."""

from __future__ import annotations

import numpy as np

from oculus.mesh.fidelity import faulty_faces, is_closed_manifold

TETRA = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
CORNER = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
OCTAHEDRON_VERTICES = np.array([[1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], float)
OCTAHEDRON = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4], [1, 0, 5], [2, 1, 5], [3, 2, 5], [0, 3, 5]])


def test_two_solids_pinched_at_one_vertex_are_not_a_2_manifold():
    apart = np.vstack([TETRA, TETRA + 4])
    pinched = np.vstack([TETRA, np.where(TETRA == 0, 0, TETRA + 3)])  # the second shares vertex 0
    assert is_closed_manifold(TETRA) and is_closed_manifold(apart)
    assert not is_closed_manifold(pinched)
    assert not is_closed_manifold(TETRA[:3])  # open
    assert not is_closed_manifold(np.vstack([TETRA[:3], TETRA[3:, ::-1]]))  # one face wound inward


def test_a_clean_surface_has_no_faulty_faces():
    assert not faulty_faces(CORNER, TETRA).any()
    assert not faulty_faces(OCTAHEDRON_VERTICES, OCTAHEDRON).any()
    two = np.vstack([CORNER, CORNER + [2.0, 0, 0]])
    assert not faulty_faces(two, np.vstack([TETRA, TETRA + 4])).any()


def test_pieces_pushed_into_each_other_are_found():
    overlapping = np.vstack([CORNER, CORNER + 0.2])
    faulty = faulty_faces(overlapping, np.vstack([TETRA, TETRA + 4]))
    assert faulty[:4].any() and faulty[4:].any()


def test_a_fan_folded_through_the_surface_is_found():
    folded = OCTAHEDRON_VERTICES.copy()
    folded[4] = [0.3, 0.1, -0.9]  # the top pushed down through the bottom (CGAL: faces 1, 2 cross 4, 7)
    assert np.flatnonzero(faulty_faces(folded, OCTAHEDRON)).tolist() == [1, 2, 4, 7]


def test_a_face_without_area_is_faulty():
    flat = CORNER.copy()
    flat[3] = [0.5, 0.0, 0.0]  # on the edge from vertex 0 to vertex 1
    assert faulty_faces(flat, TETRA)[1]
