"""Mesh post-processing: non-shrinking smoothing, decimation, normals (all vectorised)."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from .model import cross_rows, row_norms

#: Taubin lambda|mu smoothing (Taubin 1995): a low-pass filter that, unlike plain Laplacian
#: smoothing, does not shrink the surface, so thin structures (vessels, ribs) keep their girth.
TAUBIN_LAMBDA = 0.5
TAUBIN_MU = -0.53
TAUBIN_ITERATIONS = 10  # lambda/mu pairs

#: An explicit ``reduction_percent`` never takes a structure below this many triangles (or
#: below what it has). The default, tolerance-bound decimation needs no floor: the tolerance
#: decides how coarse a structure may get.
MIN_TRIANGLES = 200


def taubin_smooth(vertices: np.ndarray, faces: np.ndarray, iterations: int = TAUBIN_ITERATIONS) -> np.ndarray:
    """Return smoothed vertex positions; topology unchanged."""
    if len(faces) == 0 or iterations <= 0:
        return vertices
    n = len(vertices)
    # directed half-edges a->b, b->c, c->a: on a closed, consistently wound surface each edge's
    # reverse comes from the neighbouring face, so this is already the symmetric adjacency
    # (2.5x cheaper to build than listing both directions; a duplicate is folded below)
    rows = faces.ravel()
    cols = faces[:, [1, 2, 0]].ravel()
    adjacency = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, n))
    adjacency.data[:] = 1.0  # duplicate edges were summed: uniform weights per neighbour
    degree = np.diff(adjacency.indptr).astype(np.float32)
    degree[degree == 0] = 1.0
    adjacency.data /= np.repeat(degree, np.diff(adjacency.indptr))  # row i averages neighbours
    average = adjacency
    # float32: half the memory traffic of the sparse products; positions stay well within
    # float32 precision (world mm), and the result is stored as float32 anyway
    origin = vertices.mean(axis=0)
    points = (vertices - origin).astype(np.float32)
    for _ in range(iterations):
        points += TAUBIN_LAMBDA * (average @ points - points)
        points += TAUBIN_MU * (average @ points - points)
    return points.astype(np.float64) + origin


def decimate(vertices: np.ndarray, faces: np.ndarray, target_triangles: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadric-error decimation (fast-simplification) down to about ``target_triangles``."""
    import fast_simplification

    target = max(int(target_triangles), 4)
    if target >= len(faces):
        return vertices, faces
    points, triangles = fast_simplification.simplify(
        np.ascontiguousarray(vertices, dtype=np.float64),
        np.ascontiguousarray(faces, dtype=np.int32),
        target_count=target,
    )
    return compact(*_without_doubled_faces(points, triangles.astype(np.int64)))


def _without_doubled_faces(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop every face whose three vertices another face also has.

    Collapsing edges across a sliver can leave two faces on the same three vertices, back to
    back: a zero-volume pillow, or four faces on one edge. Removing both copies closes the
    surface again in the common case; what is still not a 2-manifold is caught by the caller.
    """
    corners = np.sort(faces, axis=1)
    n = int(faces.max(initial=0)) + 1
    if n < 2_000_000:  # one int64 key per face (n^3 fits): much faster than unique rows
        key = (corners[:, 0] * n + corners[:, 1]) * n + corners[:, 2]
        _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    else:
        _, inverse, counts = np.unique(corners, axis=0, return_inverse=True, return_counts=True)
    return vertices, faces[counts[inverse.ravel()] == 1]


def compact(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop degenerate triangles and vertices no triangle uses."""
    degenerate = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 2] == faces[:, 0])
    faces = faces[~degenerate]
    used = np.zeros(len(vertices), bool)
    used[faces.ravel()] = True
    remap = np.cumsum(used) - 1
    return vertices[used], remap[faces]


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (outward for outward-wound faces)."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    face_normals = cross_rows(b - a, c - a)  # length = 2 x area: area weighting for free
    normals = np.zeros_like(vertices, dtype=np.float64)
    index = faces.ravel()
    for axis in range(3):
        normals[:, axis] = np.bincount(index, np.repeat(face_normals[:, axis], 3), minlength=len(vertices))
    length = row_norms(normals)
    cancelled = length < 1e-9 * max(float(np.abs(face_normals).max(initial=0.0)), 1e-30)
    if cancelled.any():  # pinch vertices (faces around cancel out): take one adjacent face's normal
        fallback = np.zeros_like(normals)
        for corner in range(3):
            fallback[faces[:, corner]] = face_normals
        normals[cancelled] = fallback[cancelled]
        length = row_norms(normals)
    length[length == 0] = 1.0
    return normals / length[:, None]
