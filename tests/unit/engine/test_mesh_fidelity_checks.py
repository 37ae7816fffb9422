"""The engine's own print-readiness checks refuse what a slicer or CGAL refuses."""

from __future__ import annotations

import numpy as np
import pytest

from oculus.mesh.fidelity import (
    MAX_PIECE_BOXES,
    Faults,
    _near_other_pieces,
    faulty_faces,
    is_closed_manifold,
)

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


def _scene(rng, pieces=60):
    """Octahedra of mixed sizes (face radii over several powers of two) scattered so that some
    overlap, plus one large octahedron through the middle: the largest piece."""
    vertices, faces = [OCTAHEDRON_VERTICES * 6.0], [OCTAHEDRON]
    for index in range(1, pieces + 1):
        scale = rng.choice([0.3, 0.6, 1.5, 4.0])
        vertices.append(OCTAHEDRON_VERTICES * scale + rng.uniform(-8, 8, 3))
        faces.append(OCTAHEDRON + 6 * index)
    return np.vstack(vertices), np.vstack(faces)


def _crosses_brute_force(vertices, faces):
    """Per face: some edge of it passes strictly through another piece's face, or some edge of
    another piece's face passes through it (Moeller-Trumbore over every pair: independent of
    the engine's search)."""
    piece = faces[:, 0] // 6
    triangles = vertices[faces]
    found = np.zeros(len(faces), bool)
    for a in range(len(faces)):
        for k in range(3):
            p, q = vertices[faces[a][k]], vertices[faces[a][(k + 1) % 3]]
            hits = _segment_hits(p, q, triangles) & (piece != piece[a])
            if hits.any():
                found[a] = True
                found[hits] = True
    return found


def _segment_hits(p, q, triangles, eps=1e-12):
    """Per triangle: the segment p-q passes strictly through it."""
    d = q - p
    e1, e2 = triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]
    h = np.cross(d, e2)
    det = np.einsum("ij,ij->i", e1, h)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = p - triangles[:, 0]
        u = np.einsum("ij,ij->i", s, h) / det
        w = np.cross(s, e1)
        v = (w @ d) / det
        t = np.einsum("ij,ij->i", e2, w) / det
        return (np.abs(det) > eps) & (u > 0) & (v > 0) & (u + v < 1) & (t > 0) & (t < 1)


# 12 and 60 pieces: the search is limited to faces near another piece's box; 90: past
# MAX_PIECE_BOXES, every face is searched
@pytest.mark.parametrize("pieces", [12, 60, 90])
def test_crossings_between_pieces_of_mixed_sizes_match_a_brute_force_search(pieces):
    assert 12 < MAX_PIECE_BOXES < 90
    rng = np.random.default_rng(7)
    vertices, faces = _scene(rng, pieces)
    expected = _crosses_brute_force(vertices, faces)
    assert 4 < expected.sum() < len(faces) - 20  # the scene has both
    assert np.array_equal(faulty_faces(vertices, faces), expected)


def test_faults_after_a_move_match_a_fresh_test():
    rng = np.random.default_rng(11)
    vertices, faces = _scene(rng)
    faults = Faults(vertices, faces)
    for _ in range(4):
        moved_pieces = rng.choice(61, 8, replace=False)
        moved = np.isin(np.arange(len(vertices)) // 6, moved_pieces)
        vertices = vertices.copy()
        vertices[moved] += rng.uniform(-3, 3, 3)
        faults = faults.moved(vertices, moved)
        assert np.array_equal(faults.faulty, faulty_faces(vertices, faces))


def test_only_faces_that_reach_another_pieces_box_are_searched():
    # three octahedra on a line: the middle one overlaps the first, the third is far away
    vertices = np.vstack([OCTAHEDRON_VERTICES, OCTAHEDRON_VERTICES + [1.5, 0.2, 0.1], OCTAHEDRON_VERTICES + [20, 0, 0]])
    faces = np.vstack([OCTAHEDRON + 6 * k for k in range(3)])
    triangles = vertices[faces]
    centre = triangles.mean(axis=1)
    radius = np.sqrt(((triangles - centre[:, None]) ** 2).sum(axis=2).max(axis=1))
    near = _near_other_pieces(centre, radius, faces[:, 0] // 6)
    assert near[:16].all() and not near[16:].any()
    assert faulty_faces(vertices, faces)[:16].any() and not faulty_faces(vertices, faces)[16:].any()


def test_bounding_spheres_are_bit_for_bit_the_reductions_over_corners_and_coordinates():
    from oculus.mesh.fidelity import _bounding_spheres

    triangles = np.random.default_rng(11).normal(scale=40.0, size=(500, 3, 3))
    centre, radius = _bounding_spheres(triangles)
    assert np.array_equal(centre, triangles.mean(axis=1))
    assert np.array_equal(radius, np.sqrt(((triangles - centre[:, None]) ** 2).sum(axis=2).max(axis=1)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_norms_and_face_centres_are_bit_for_bit_numpys_reductions(dtype):
    from oculus.mesh.extract import _face_centres
    from oculus.mesh.model import row_norms

    rng = np.random.default_rng(13)
    points = rng.normal(scale=60.0, size=(400, 3)).astype(dtype)
    triangles = rng.integers(0, 400, (900, 3))
    assert np.array_equal(row_norms(points), np.linalg.norm(points, axis=1)) and row_norms(points).dtype == dtype
    assert np.array_equal(_face_centres(points, triangles), points[triangles].mean(axis=1))


def test_column_bounds_are_numpys_column_minima_and_maxima():
    from oculus.mesh.model import column_bounds

    rows = np.random.default_rng(17).normal(size=(300, 3)).astype(np.float32)
    low, high = column_bounds(rows)
    assert np.array_equal(low, rows.min(axis=0)) and np.array_equal(high, rows.max(axis=0)) and low.dtype == np.float32
    with pytest.raises(ValueError):
        column_bounds(np.zeros((0, 3)))
