"""What makes a mesh a measurement: closed 2-manifold, voxel volume kept, deviation measured.

* ``is_closed_manifold``: every edge is shared by exactly two faces that traverse it in
  opposite directions (closed, consistently wound, no edge shared by three or more faces).
* ``fit_moments``: moves every vertex along its normal by one common distance so the enclosed
  volume equals the voxel volume, then translates the solid onto the voxels' centroid. Marching cubes cuts
  the corners of the voxel boundary and smoothing rounds them further, which shrinks thin
  structures (a rib two voxels thick lost 20-30 %); a uniform offset gives that volume back
  without moving the centroid and by a small fraction of a voxel on anything but tiny blobs.
* ``boundary_deviation``: distance from points to the voxel boundary (the surface of the union
  of the structure's voxel cubes), exact up to one voxel from a 3 x 3 x 3 neighbourhood.
"""

from __future__ import annotations

import numpy as np

#: The offset and the shift ``fit_moments`` may apply, in voxels (of the smallest edge): a bound for tiny
#: structures whose surface is too coarse for a first-order offset.
MAX_OFFSET_VOXELS = 0.5

_NEIGHBOURS = np.stack(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1], indexing="ij"), axis=-1).reshape(-1, 3)
# rows: gap above along axis 0, 1, 2, then below; columns: neighbours (the home voxel never
# differs from itself, so its all-zero column is masked out)
_SELECT = np.concatenate([_NEIGHBOURS.T > 0, _NEIGHBOURS.T < 0]).astype(np.float32)
_CHUNK = 65_536


def is_closed_manifold(faces: np.ndarray) -> bool:
    """Each directed edge occurs once and its reverse occurs once (needs >= 4 faces)."""
    if len(faces) < 4:
        return False
    faces = faces.astype(np.int64)
    n = int(faces.max()) + 1
    edges = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    forward = np.sort(edges[:, 0] * n + edges[:, 1])
    if np.any(forward[1:] == forward[:-1]):
        return False
    return bool(np.array_equal(forward, np.sort(edges[:, 1] * n + edges[:, 0])))


def fit_moments(
    vertices: np.ndarray,
    faces: np.ndarray,
    targets: np.ndarray,
    centroids: np.ndarray,
    voxel_mm: float,
    vertex_piece: np.ndarray | None = None,
) -> np.ndarray:
    """Per piece (``vertex_piece``: piece index per vertex; default one piece): offset along the
    vertex normals to ``targets[piece]`` volume (mm^3), then translate the piece's solid
    centroid onto ``centroids[piece]``; each move at most ``MAX_OFFSET_VOXELS`` voxels.

    The offset starts from area x distance and is refined by secant steps with the normals kept
    until the volume is within 0.1 %. Smoothing bends a thin curved structure (a rib) towards its
    chord; the voxels' centroid is known exactly, so the mesh is put back on it. Pieces whose
    target is 0 are left alone.
    """
    targets = np.atleast_1d(np.asarray(targets, np.float64))
    centroids = np.asarray(centroids, np.float64).reshape(-1, 3)
    pieces = len(targets)
    if vertex_piece is None:
        vertex_piece = np.zeros(len(vertices), np.int64)
    face_piece = vertex_piece[faces[:, 0]]
    limit = MAX_OFFSET_VOXELS * voxel_mm
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    face_normals = np.cross(b - a, c - a)
    normals = np.empty_like(vertices)
    for axis in range(3):
        normals[:, axis] = np.bincount(faces.ravel(), np.repeat(face_normals[:, axis], 3), minlength=len(vertices))
    normals /= np.maximum(np.linalg.norm(normals, axis=1), 1e-12)[:, None]
    area = 0.5 * np.bincount(face_piece, np.linalg.norm(face_normals, axis=1), minlength=pieces)
    active = (targets > 0) & (area > 0)
    origin = vertices.mean(axis=0)
    moved, slope = np.zeros(pieces), np.where(area > 0, area, 1.0)
    last_moved, last_volume = np.full(pieces, np.nan), np.full(pieces, np.nan)
    for _ in range(6):  # secant steps: large surfaces are done after one or two
        volume, centre = _piece_moments(vertices + moved[vertex_piece, None] * normals - origin, faces, face_piece, pieces)
        error = targets - volume
        todo = active & (np.abs(error) > 1e-3 * targets)
        if not todo.any():
            break
        with np.errstate(invalid="ignore", divide="ignore"):
            measured = (volume - last_volume) / (moved - last_moved)
        usable = np.isfinite(measured) & (measured > 0)
        slope = np.where(usable, measured, slope)
        last_moved, last_volume = moved.copy(), volume
        moved = np.where(todo, moved + np.clip(error / slope, -limit - moved, limit - moved), moved)
    # the centre of the last measured step: the final one moves the centroid negligibly
    shift = np.where(active[:, None] & (volume[:, None] > 0), centroids - (centre + origin), 0.0)
    length = np.linalg.norm(shift, axis=1)
    shift *= np.minimum(1.0, limit / np.maximum(length, 1e-12))[:, None]  # a correction, never a relocation
    moved = np.where(active, moved, 0.0)
    return vertices + moved[vertex_piece, None] * normals + shift[vertex_piece]


def enclosed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Volume (mm^3) a closed, outward-wound mesh encloses."""
    centred = vertices - vertices.mean(axis=0)
    return float(_piece_moments(centred, faces, np.zeros(len(faces), np.int64), 1)[0][0])


def _piece_moments(vertices, faces, face_piece, pieces) -> tuple[np.ndarray, np.ndarray]:
    """Per piece: enclosed volume and solid centroid (closed, outward-wound pieces)."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    six = np.einsum("ij,ij->i", a, np.cross(b, c))
    volume = np.bincount(face_piece, six, minlength=pieces) / 6.0
    summed = a + b + c
    moment = np.stack([np.bincount(face_piece, six * summed[:, axis], minlength=pieces) for axis in range(3)], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = moment / (24.0 * volume[:, None])
    return volume, np.nan_to_num(centre)


def boundary_deviation(points: np.ndarray, mask: np.ndarray, axes: np.ndarray) -> tuple[float, float]:
    """(largest distance in voxels, the same in mm) of ``points`` from the voxel boundary.

    ``points`` are in ``mask`` index coordinates; ``axes`` is the affine's 3 x 3 part (index
    steps to mm). The nearest boundary point is searched among the 27 voxels around each point,
    which is exact for distances up to one voxel; farther points count as one voxel. The mm
    figure is the length of that same nearest-point offset, so an upper bound.
    """
    if len(points) == 0:
        return 0.0, 0.0
    grid = np.pad(mask, 2)  # outside the crop is background; no neighbour falls off the grid
    home = np.clip(np.floor(points + 0.5).astype(np.int64) + 2, 1, np.asarray(grid.shape) - 2)
    strides = np.asarray(grid.strides, np.int64) // grid.itemsize
    flat_grid = grid.reshape(-1)
    flat = home @ strides
    inside = flat_grid[flat]
    centre = home - 2.0
    # per axis, the gap to the neighbouring voxel's cube below (-1) and above (+1); float32
    # halves the memory traffic of the 26 passes and is ample for a fraction of a voxel
    below = np.clip(points - (centre - 0.5), 0, None).astype(np.float32)
    above = np.clip(centre + 0.5 - points, 0, None).astype(np.float32)
    # squared distance to each neighbour's cube = the chosen per-axis gaps squared, summed:
    # one product with a 0/1 selection matrix for all 26 neighbours at once
    gaps = np.concatenate([above**2, below**2], axis=1)
    offsets = _NEIGHBOURS @ strides
    best = np.empty(len(points), np.float32)
    best_step = np.empty(len(points), np.int64)
    for low in range(0, len(points), _CHUNK):
        part = slice(low, low + _CHUNK)
        squared = gaps[part] @ _SELECT
        differs = flat_grid[flat[part, None] + offsets] != inside[part, None]
        squared[~differs] = np.inf
        best_step[part] = np.argmin(squared, axis=1)
        best[part] = np.take_along_axis(squared, best_step[part, None], axis=1)[:, 0]
    far = ~np.isfinite(best)
    worst_voxels = float(np.sqrt(best[~far].max(initial=0.0)))
    if far.any():
        worst_voxels = max(worst_voxels, 1.0)
    # the offsets in index units for the mm figure: only per axis the step moves along
    steps = _NEIGHBOURS[best_step[~far]]
    offset = np.where(steps > 0, above[~far], np.where(steps < 0, -below[~far], 0.0))
    worst_mm = float(np.linalg.norm(offset @ axes.T, axis=1).max(initial=0.0))
    if far.any():
        worst_mm = max(worst_mm, float(np.linalg.norm(axes, axis=0).min()))
    return worst_voxels, worst_mm
