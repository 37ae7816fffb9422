"""Label map -> one closed 2-manifold surface per structure, in RAS+ world millimetres.

Per structure, from its own binary mask (crop = its bounding box padded by one background
voxel, so a structure cut by the scan's border is closed there by a cap):

* ``smoothing=True``: marching cubes at 0.5 on the mask; Taubin smoothing with every vertex
  kept within ``SMOOTHING_LIMIT_VOXELS`` of where marching cubes put it (on the voxel
  boundary); then decimation.
* ``smoothing=False``: marching cubes on the mask upsampled 2x, which puts the vertices on the
  voxel faces (the voxel boundary, its edges bevelled by a quarter voxel); then decimation.

Marching cubes' output is a closed 2-manifold; so is every decimated mesh kept (checked, see
``_decimate_within``). After decimation each connected piece is offset and shifted to its
voxels' volume and centroid (``fidelity.fit_moments``, per piece: ``_Parts``).

Decimation: by default (``reduction_percent=None``) by tolerance: the coarsest rung of
``TOLERANCE_RUNGS`` whose mesh stays within ``TOLERANCE_VOXELS`` of the voxel boundary
(``fidelity.boundary_deviation``), no triangle floor. An explicit ``reduction_percent`` removes
that share of the full-resolution surface's triangles (never below ``smooth.MIN_TRIANGLES``);
for speed, large structures are then first averaged over blocks of voxels
(``presample_factors``): the block mean keeps partial volumes, so marching cubes still places
the surface between voxels; it just produces fewer triangles, which the decimator would have
removed anyway, and quadric decimation gets much cheaper when it removes a smaller share.

Each mesh's ``voxel_stats`` carries ``maxDeviationVoxels`` / ``maxDeviationMm``, measured.
Structures are meshed in parallel worker processes; a Fortran-ordered label map (nibabel's) is
meshed through its C-ordered transposed view. Output is deterministic: each structure is
processed independently and results are ordered by label id whatever the scheduling.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from ..colors import color_of
from ..errors import InputError
from ..progress import Progress, no_progress
from .boxes import fortran_ordered, label_boxes, worker_count, zero_padded
from .fidelity import (
    Faults,
    boundary_deviation,
    enclosed_volume,
    fit_moments,
    is_closed_manifold,
)
from .model import StructureMesh, row_norms, surface_area_mm2
from .smooth import (
    MIN_TRIANGLES,
    TAUBIN_ITERATIONS,
    compact,
    decimate,
    taubin_smooth,
    vertex_normals,
)
from .surface import ISO_LEVEL, iso_surface

PRESAMPLE_MIN_REDUCTION = 50
PRESAMPLE_MIN_VOXELS = 20_000
PRESAMPLE_MAX_VOLUME_ERROR = 0.03
#: Without smoothing, crops up to this many voxels are upsampled 2x (8x the memory); a larger
#: one (a whole-body mask) is meshed on its own grid, unsmoothed, like the default's surface.
UPSAMPLE_MAX_VOXELS = 32_000_000

#: The default decimation keeps every mesh within this many voxels of the voxel boundary
#: (measured, ``fidelity.boundary_deviation``), taking the smallest of these shares of the
#: triangles that does.
TOLERANCE_VOXELS = 0.5
TOLERANCE_RUNGS = (0.03, 0.06, 0.1, 0.18, 0.3, 0.5, 0.75)
#: Pieces of a structure with fewer voxels are not smoothed.
SMOOTHING_MIN_PIECE_VOXELS = 8
#: With an explicit reduction: the requested triangle count, then these multiples of it.
OVERRIDE_RETRIES = (1.0, 1.1, 1.25, 1.5, 2.0)
#: After decimation, faulty faces on connected pieces of fewer voxels than this are mended by
#: moving their vertices back towards where they were before the fit (``_untangled``) ...
FRAGMENT_VOXELS = 64
#: ... and at most this share of all vertices elsewhere (a fold of the bone itself)
MEND_MAX_SHARE = 0.05
#: Smoothing moves no vertex farther than this (voxels of the smallest edge) from where
#: marching cubes put it, on the voxel boundary.
SMOOTHING_LIMIT_VOXELS = 0.3

_LABELS: np.ndarray | None = None  # the label map, inherited by forked workers
_INTENSITY: np.ndarray | None = None


def extract_meshes(
    labels: np.ndarray,
    affine: np.ndarray,
    classes: dict[int, str],
    *,
    smoothing: bool = True,
    reduction_percent: int | None = None,
    progress: Progress = no_progress,
    workers: int | None = None,
    background: Callable[[], None] | None = None,
    intensity: np.ndarray | None = None,
    boxes: list[tuple[slice, ...] | None] | None = None,
) -> list[StructureMesh]:
    """One closed, outward-wound surface per label present in ``labels``, ordered by label.

    ``workers``: meshing processes (default: the CPUs this process may use). ``background``:
    other work run in this process once a core is free of workers (the last structures are
    being meshed; e.g. writing the label map), so it neither slows the largest structure nor
    runs threads while workers fork.
    ``intensity``: the scan on the same grid; each mesh's ``voxel_stats`` then carries the
    intensity sum and sum of squares inside the structure (measured on the same crop).
    ``boxes``: ``label_boxes(labels)`` where the caller already has them (not searched again).
    """
    if labels.ndim != 3:
        raise InputError("a label map must be 3D", code="not_3d")
    if reduction_percent is not None and not 0 <= int(reduction_percent) <= 99:
        raise InputError("reduction_percent must be an integer from 0 to 99", code="invalid_options")
    affine = np.asarray(affine, dtype=np.float64)
    if intensity is not None and intensity.shape != labels.shape:
        raise InputError("the intensity volume and the label map differ in shape", code="label_map_mismatch")
    if boxes is None:
        boxes = label_boxes(labels, workers)
    # nibabel hands back Fortran-ordered voxels: mesh the C-ordered transposed view (no copy)
    # with the affine's columns reversed, and report box and centroid in the caller's axes
    transposed = fortran_ordered(labels)
    if transposed:
        labels, affine = labels.T, affine[:, [2, 1, 0, 3]]
        intensity = None if intensity is None else intensity.T
        boxes = [None if box is None else box[::-1] for box in boxes]
    jobs = [
        _Job(label, box, smoothing, None if reduction_percent is None else int(reduction_percent), affine)
        for label, box in enumerate(boxes, start=1)
        if box is not None
    ]
    results = _run(labels, intensity, jobs, worker_count(workers, len(jobs)), progress, background)
    if transposed:
        for result in results.values():
            result[3]["box"] = result[3]["box"][::-1]
            result[3]["centroidIndex"] = result[3]["centroidIndex"][::-1]
    return [
        StructureMesh(
            label=job.label,
            name=classes.get(job.label, f"label_{job.label}"),
            vertices=results[job.label][0],
            faces=results[job.label][1],
            normals=results[job.label][2],
            color=color_of(classes.get(job.label, f"label_{job.label}")),
            voxel_stats=results[job.label][3],
            area_mm2=results[job.label][4],
        )
        for job in jobs
    ]


class _Job:
    def __init__(self, label, box, smoothing, reduction_percent, affine):
        self.label = label
        self.box = box
        self.smoothing = smoothing
        self.reduction_percent = reduction_percent
        self.affine = affine
        self.size = int(np.prod([s.stop - s.start for s in box]))


#: Presampling aims at this many times the decimation target, so the final mesh still comes
#: out of the quadric decimator (adaptive, not the coarse grid's uniform triangles).
PRESAMPLE_MARGIN = 1.2


def presample_factors(affine: np.ndarray, reduction_percent: int = 90) -> tuple[int, int, int]:
    """Integer block size per axis for presampling before marching cubes.

    A surface's triangle count scales with ``1 / prod(factors) ** (2/3)`` of the full
    resolution one, so the blocks' voxel count is chosen as
    ``(1 / (PRESAMPLE_MARGIN x (1 - r))) ** 1.5``, with blocks as close to cubes in
    millimetres as integer factors allow (0.8 x 0.8 x 1.5 mm at 90 %: 4 x 4 x 2 voxels,
    3.2 x 3.2 x 3 mm). The extracted surface then has about the triangles the decimation target
    asks for (1.2 x before rounding the factors), so the decimator removes little or nothing:
    its cost grows steeply with the share it removes. A margin of 1.5 instead cost the
    benchmark's workers 5.2 s of CPU instead of 3.9 s for the same volume fit (median error
    0.01 %) and a median reported deviation of 0.64 instead of 0.81 voxels; an explicit
    reduction promises a triangle count, not a tolerance (the default keeps 0.5 voxels).
    """
    spacing = np.linalg.norm(np.asarray(affine, dtype=np.float64)[:3, :3], axis=0)
    keep = max(1.0 - reduction_percent / 100.0, 0.01)
    block_voxels = max(1.0, 1.0 / (PRESAMPLE_MARGIN * keep)) ** 1.5
    cell = float(block_voxels * np.prod(spacing)) ** (1.0 / 3.0)  # cube edge in mm
    return tuple(int(max(1, np.floor(cell / s + 0.5))) for s in spacing)  # type: ignore[return-value]


def mesh_structure(labels: np.ndarray, job: _Job, intensity: np.ndarray | None = None, *, presample: bool = True):
    """(vertices float32 world mm, faces int32 outward, normals float32, voxel stats, surface
    area mm²).

    A presampled surface that misses the voxel volume by more than
    ``PRESAMPLE_MAX_VOLUME_ERROR`` (a structure of many fragments smaller than a block, which
    the block mean loses) is made again at full resolution.
    """
    mask = labels[job.box] == job.label
    start = np.array([s.start for s in job.box], dtype=np.float64)
    stats = crop_statistics(mask, start, None if intensity is None else intensity[job.box])
    stats["box"] = [[s.start, s.stop] for s in job.box]
    axes, voxels = job.affine[:3, :3], stats["voxelCount"]
    padded = zero_padded(mask, 1)
    factors = (1, 1, 1)
    override = job.reduction_percent is not None
    if presample and job.smoothing and override and job.reduction_percent >= PRESAMPLE_MIN_REDUCTION and voxels >= PRESAMPLE_MIN_VOXELS:
        factors = presample_factors(job.affine, job.reduction_percent)
    if not job.smoothing and padded.size <= UPSAMPLE_MAX_VOXELS:
        # a 2x finer grid puts marching cubes' vertices on the voxel faces: the voxel boundary
        # with every edge bevelled by a quarter voxel, and a 2-manifold even where voxels touch
        # only along an edge or at a corner (the plain voxel boundary is not there)
        fine = padded.repeat(2, 0).repeat(2, 1).repeat(2, 2).view(np.uint8)
        vertices, faces = iso_surface(fine)
        inside = _inside_ends(fine, vertices) // 2
        index = vertices / 2.0 - 0.25
    elif factors == (1, 1, 1):
        vertices, faces = iso_surface(padded.view(np.uint8))
        inside = _inside_ends(padded, vertices)
        index = vertices
    else:
        field = zero_padded(_block_mean(mask, factors), 1)
        vertices, faces = iso_surface(field)
        f = np.asarray(factors, dtype=np.float64)
        index = (vertices - 1.0) * f + (f - 1.0) / 2.0 + 1.0
        inside = None  # blocks, not voxels: one fit for the whole structure
    world = (index - 1.0 + start) @ axes.T + job.affine[:3, 3]
    if np.linalg.det(axes) < 0:
        faces = faces[:, ::-1]  # a mirroring affine turns outward winding inward: undo it
    if inside is None:
        world, faces = compact(world, faces)
    else:
        both, faces = compact(np.hstack([world, inside]), faces)
        world, inside = both[:, :3], both[:, 3:].astype(np.int64)
    full_resolution = len(faces) * float(np.prod(factors)) ** (2.0 / 3.0)
    voxel_mm = float(np.linalg.norm(axes, axis=0).min())
    parts = _Parts(padded, world, faces, inside, job.affine, start, voxel_mm, (voxels, stats["centroidIndex"]))
    if job.smoothing:
        # a presampled field is already low-pass filtered by its block mean: half the passes
        iterations = TAUBIN_ITERATIONS if factors == (1, 1, 1) else TAUBIN_ITERATIONS // 2
        smoothed = constrained(world, taubin_smooth(world, faces, iterations), SMOOTHING_LIMIT_VOXELS * voxel_mm)
        # a piece of a few voxels has no shape to smooth out, only volume to lose
        tiny = parts.voxel_counts[parts.reference[1]] < SMOOTHING_MIN_PIECE_VOXELS
        world = np.where(tiny[:, None], world, smoothed)
    to_index = np.linalg.inv(axes)

    def deviation(points: np.ndarray, triangles: np.ndarray) -> tuple[float, float]:
        # the default's tolerance holds for face centres too; an explicit reduction promises
        # none, and its report measures the vertices only (a third of the samples)
        samples = points if override else np.concatenate([points, _face_centres(points, triangles)])
        return boundary_deviation((samples - job.affine[:3, 3]) @ to_index.T - start + 1.0, padded, axes)

    if override:
        # the requested count; where fast-simplification's result is not a closed 2-manifold
        # (it does not check for that), a little less reduction
        target = round(full_resolution * (100 - job.reduction_percent) / 100)
        rungs = [] if job.reduction_percent == 0 else [max(round(target * f), min(MIN_TRIANGLES, len(faces))) for f in OVERRIDE_RETRIES]
    else:
        rungs = [round(len(faces) * keep) for keep in TOLERANCE_RUNGS]
    tolerance = None if override else TOLERANCE_VOXELS
    world, faces, worst = _decimate_within(world, faces, rungs, parts, deviation, tolerance)
    if factors != (1, 1, 1):
        volume = enclosed_volume(world, faces)
        if abs(volume - parts.volumes[0]) > PRESAMPLE_MAX_VOLUME_ERROR * parts.volumes[0]:
            return mesh_structure(labels, job, intensity, presample=False)
    stats["maxDeviationVoxels"], stats["maxDeviationMm"] = worst
    normals = vertex_normals(world, faces)
    world, faces = world.astype(np.float32), faces.astype(np.int32)
    return world, faces, normals.astype(np.float32), stats, surface_area_mm2(world, faces)


def _face_centres(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``points[triangles].mean(axis=1)``, bit for bit, without the (F, 3, 3) gather and its
    reduction over an axis of three."""
    return (points[triangles[:, 0]] + points[triangles[:, 1]] + points[triangles[:, 2]]) / 3


def constrained(before: np.ndarray, after: np.ndarray, limit: float) -> np.ndarray:
    """``after``, with each vertex moved at most ``limit`` from ``before`` (3D Slicer's
    constrained smoothing: a thin structure keeps its course instead of its chord)."""
    moved = after - before
    length = row_norms(moved)
    scale = np.minimum(1.0, limit / np.maximum(length, 1e-12))
    return before + moved * scale[:, None]


class _Parts:
    """Volume and centroid are fitted per connected piece of the surface, each against its own
    voxels: marching cubes shrinks a one-voxel fragment to a sixth while the body of a rib keeps
    most of its volume, so one common offset would leave the fragments too small and the
    centroid pulled towards the body.

    ``inside``: per vertex, the padded-crop voxel on the inside end of its grid edge; None
    for a presampled surface (blocks, not voxels), fitted as one piece.
    """

    def __init__(self, padded, vertices, faces, inside, affine, start, voxel_mm, whole):
        """``whole``: the structure's (voxel count, centroid index), used when it is one piece."""
        self.voxel_mm = voxel_mm
        self._tree: cKDTree | None = None
        voxel_mm3 = abs(float(np.linalg.det(affine[:3, :3])))
        self.reference = (vertices, np.zeros(len(vertices), np.int64))
        components, count = (None, 1) if inside is None else ndimage.label(padded)  # 6-connected, as marching cubes joins voxels
        if count == 1:
            self.voxel_counts = np.array([whole[0]])
            self.volumes = np.array([whole[0] * voxel_mm3])
            self.centroids = (affine[:3, :3] @ np.asarray(whole[1]) + affine[:3, 3])[None]
            return
        pieces, piece_of = _pieces(vertices, faces)
        component_of = components[tuple(inside.T)].astype(np.int64) - 1
        where = np.nonzero(components)
        ids = components[where] - 1
        counts = np.bincount(ids, minlength=count).astype(np.float64)
        centres = np.stack([np.bincount(ids, where[axis], minlength=count) for axis in range(3)], axis=1) / counts[:, None]
        # each voxel component belongs to the piece its surface vertices are in
        pairs = np.unique(np.stack([component_of, piece_of], axis=1)[component_of >= 0], axis=0)
        first = np.unique(pairs[:, 0], return_index=True)[1]
        component, piece = pairs[first, 0], pairs[first, 1]
        weights = np.bincount(piece, counts[component], minlength=pieces)
        self.voxel_counts = weights
        self.volumes = weights * voxel_mm3
        weighted = np.stack([np.bincount(piece, counts[component] * centres[component, axis], minlength=pieces) for axis in range(3)], axis=1)
        self.centroids = (weighted / np.maximum(weights, 1)[:, None] - 1.0 + start) @ affine[:3, :3].T + affine[:3, 3]
        self.reference = (vertices, piece_of)

    def fit(self, vertices: np.ndarray, faces: np.ndarray, *, extracted: bool = False) -> np.ndarray:
        """Vertices with each piece's volume and centroid fitted (``fit_moments``);
        ``extracted``: the extracted surface's vertices (moved, not decimated)."""
        part = None
        if len(self.volumes) > 1:
            part = self.reference[1] if extracted else self.pieces_of(vertices, faces)
        return fit_moments(vertices, faces, self.volumes, self.centroids, self.voxel_mm, part)

    def restore_missing(self, points, triangles, world, faces):
        """Decimation can collapse a piece of a few voxels to nothing: put back, as extracted,
        every piece the decimated mesh lost."""
        if len(self.volumes) == 1:
            return points, triangles
        present = np.unique(self.pieces_of(points, triangles)[triangles[:, 0]])
        lost = np.setdiff1d(np.arange(len(self.volumes)), present)
        if len(lost) == 0:
            return points, triangles
        taken = faces[np.isin(self.reference[1][faces[:, 0]], lost)]
        used = np.unique(taken)
        remap = np.zeros(len(world), np.int64)
        remap[used] = np.arange(len(used)) + len(points)
        return np.concatenate([points, world[used]]), np.concatenate([triangles, remap[taken]])

    def pieces_of(self, vertices, faces) -> np.ndarray:
        """Per vertex piece of the extracted surface (decimation keeps pieces apart), through
        the nearest extracted vertex of each connected piece."""
        reference, reference_piece = self.reference
        if len(self.volumes) == 1:
            return np.zeros(len(vertices), np.int64)
        if self._tree is None:
            self._tree = cKDTree(reference)  # once per structure, not once per decimation tried
        pieces, piece_of = _pieces(vertices, faces)
        first = np.unique(piece_of, return_index=True)[1]
        return reference_piece[self._tree.query(vertices[first])[1]][piece_of]


def _pieces(vertices, faces) -> tuple[int, np.ndarray]:
    graph = sparse.coo_matrix((np.ones(faces.size), (faces.ravel(), np.roll(faces, 1, axis=1).ravel())), shape=(len(vertices),) * 2)
    return csgraph.connected_components(graph, directed=False)


def _inside_ends(field: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Per marching-cubes vertex, the grid point on the inside end of the edge it lies on."""
    low = np.floor(vertices).astype(np.int64)
    high = low + ((vertices - low) > 1e-6)
    low_inside = field[tuple(low.T)] > ISO_LEVEL
    return np.where(low_inside[:, None], low, high)


def _decimate_within(world, faces, rungs, parts, deviation, tolerance):
    """The coarsest rung (triangle count, coarse to fine) whose decimated mesh is a closed
    2-manifold without faulty faces (``fidelity.faulty_faces``) within ``tolerance`` voxels of
    the voxel boundary, or within the undecimated surface's own deviation where smoothing alone
    went past it; else the undecimated mesh (``_untangled``).

    With a tolerance the rungs are bisected on closedness and tolerance (a finer rung is assumed
    to pass where a coarser one does: three or so decimations instead of seven), each rung
    decimated from the finer rung that last passed, if any (every rung still to try is coarser):
    quadric decimation costs about what it reads, so example_ct's body took 0.9 s of
    decimation instead of 1.65 s, and its meshes came out with fewer triangles within the same
    measured tolerance (231 k -> 182 k on the threshold engine's map). Without a tolerance,
    the first closed rung. Only that rung is checked for faulty faces, then finer ones in turn.
    """
    rungs = [r for r in rungs if r < len(faces)]
    kept: list = []  # the undecimated surface, fitted, and its deviation: made when first needed

    def undecimated():
        if not kept:
            fitted = parts.fit(world, faces, extracted=True)
            kept.extend([fitted, deviation(fitted, faces)])
        return kept

    def within(worst: float) -> bool:
        # the tolerance, or the undecimated surface's own deviation where that is larger
        return tolerance is None or worst <= tolerance or worst <= undecimated()[1][0]

    def attempt(rung, passed=None):
        # ``passed``: a finer rung's result, whose decimated (unfitted) surface is decimated
        # further instead of the whole surface again (the cost grows with what it reads)
        if passed is None:
            start, start_faces = world, faces
        else:
            _points, start_faces, _worst, start = passed
        before, triangles = parts.restore_missing(*decimate(start, start_faces, rung), world, faces)
        if not is_closed_manifold(triangles):
            return None
        points = parts.fit(before, triangles)
        worst = deviation(points, triangles)
        return (points, triangles, worst, before) if within(worst[0]) else None

    def sound(result):
        # the decimator can fold a fan over; the fit's offset can push pieces into each other.
        # Fragments are mended (moving a whole bone back, as for the undecimated surface, loses
        # the fit: a rib's centroid went 0.6 voxel off). Checked on the chosen rung only: it
        # costs more than the rest of the attempt on a large mesh.
        if result is None:
            return None
        points, triangles, worst, before = result
        # pieces found from the unfitted positions: the fit may shift a fragment towards the bone
        fragment = parts.voxel_counts[parts.pieces_of(before, triangles)] < FRAGMENT_VOXELS
        mended = _untangled(points, triangles, before, fragment)
        if mended is None:
            return None
        if mended is points:
            return points, triangles, worst
        worst = deviation(mended, triangles)
        return (mended, triangles, worst) if within(worst[0]) else None

    index, result = 0, None
    if tolerance is None:
        result = attempt(rungs[0]) if rungs else None
    else:
        low, high = 0, len(rungs)  # the answer's index lies in [low, high]; high = none passes
        while low < high:
            middle = (low + high) // 2
            tried = attempt(rungs[middle], result)  # every rung left is coarser than result's
            if tried is None:
                low = middle + 1
            else:
                index, result, high = middle, tried, middle
        if result is None:
            index = len(rungs)
    # the first rung that passes, if sound; else the next finer ones in turn
    while index < len(rungs):
        checked = sound(result)
        if checked is not None:
            return checked
        index += 1
        result = attempt(rungs[index]) if index < len(rungs) else None
    fitted, fitted_worst = undecimated()
    mended = _untangled(fitted, faces, parts.reference[0])
    if mended is fitted:  # nothing to mend (most meshes): its deviation is already measured
        return fitted, faces, fitted_worst
    world = parts.reference[0] if mended is None else mended  # marching cubes' own surface
    return world, faces, deviation(world, faces)


#: Halvings of the move of the vertices around faulty faces before they are put back where
#: marching cubes put them.
UNTANGLE_HALVINGS = 3


def _untangled(points, faces, before, fragment=None):
    """``points`` with the vertices of faulty faces and their neighbours moved back towards
    ``before`` until no face is faulty; None if that does not do it. ``fragment`` (per vertex):
    where given, vertices outside it may move only up to ``MEND_MAX_SHARE`` of all.

    Marching cubes' surface has no faulty face; smoothing's per-vertex limit can fold a sliver,
    the fit's offset can push two pieces of a structure into each other (a fragment that touches
    the body diagonally) and decimation can fold a fan. Each round halves those vertices' moves,
    the last undoes them. Each round tests only the faces around the vertices it moved
    (``Faults.moved``).
    """
    faults = Faults(points, faces)
    share = np.ones(len(points))
    bound = np.zeros(len(points), bool)
    moved = points
    for round_ in range(UNTANGLE_HALVINGS + 2):
        faulty = faults.faulty
        if not faulty.any():
            return moved
        if round_ > UNTANGLE_HALVINGS:
            return None
        around = np.zeros(len(points), bool)
        around[faces[faulty]] = True
        around[faces[around[faces].any(axis=1)]] = True
        if fragment is not None:
            bound |= around & ~fragment
            if np.count_nonzero(bound) > MEND_MAX_SHARE * len(points):
                return None
        share[around] = 0.0 if round_ >= UNTANGLE_HALVINGS else share[around] / 2
        moved = moved.copy()  # only those rows change (bit for bit: the others are not re-tested)
        moved[around] = before[around] + share[around, None] * (points[around] - before[around])
        faults = faults.moved(moved, around)
    return None


def crop_statistics(mask: np.ndarray, start: np.ndarray, values: np.ndarray | None) -> dict:
    """Voxel count, mean voxel index and intensity sums of one structure's crop."""
    count = int(np.count_nonzero(mask))
    profiles = _axis_profiles(mask)
    centre = [float(profile @ np.arange(len(profile))) / count + float(start[axis]) for axis, profile in enumerate(profiles)]
    stats: dict = {"voxelCount": count, "centroidIndex": centre}
    if values is not None:
        inside = values[mask]
        if _small_integers(inside):
            wide = inside.astype(np.int64)  # exact, and ~3x faster than float64 sums here
            stats["intensitySum"] = float(wide.sum())
            stats["intensitySumSquares"] = float(np.dot(wide, wide))
        else:
            wide = inside.astype(np.float64)
            stats["intensitySum"] = float(wide.sum())
            stats["intensitySumSquares"] = float(np.dot(wide, wide))
    return stats


def _axis_profiles(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per axis of a 3D mask, its voxel count at each index along that axis (int64).

    Two passes: the planes across the axis outermost in memory are added whole (in uint16 where
    that axis is shorter than 2**16, as every real one is: exact), giving the other two axes'
    profiles; that axis's own comes from the mask as (its length, the rest), a view. Half the
    cost of summing each into int64 across the axes it is not.
    """
    voxels = mask.view(np.uint8)
    if fortran_ordered(voxels):
        plane = np.add.reduce(voxels, axis=2, dtype=np.uint16 if voxels.shape[2] < 2**16 else np.int64)
        last = np.add.reduce(voxels.reshape(-1, voxels.shape[2], order="F"), axis=0, dtype=np.int64)
        return plane.sum(axis=1, dtype=np.int64), plane.sum(axis=0, dtype=np.int64), last
    voxels = np.ascontiguousarray(voxels)
    plane = np.add.reduce(voxels, axis=0, dtype=np.uint16 if voxels.shape[0] < 2**16 else np.int64)
    first = np.add.reduce(voxels.reshape(voxels.shape[0], -1), axis=1, dtype=np.int64)
    return first, plane.sum(axis=1, dtype=np.int64), plane.sum(axis=0, dtype=np.int64)


def _small_integers(values: np.ndarray) -> bool:
    """Integers whose squares, summed over any crop, cannot overflow int64."""
    if not np.issubdtype(values.dtype, np.integer) or values.dtype.itemsize > 4:
        return False
    if values.dtype.itemsize <= 2 or values.size == 0:
        return True
    return max(abs(int(values.min())), abs(int(values.max()))) < 2**20


def _block_mean(mask: np.ndarray, factors: tuple[int, int, int]) -> np.ndarray:
    """Fraction of each factors-sized block that is inside (blocks past the edge count as 0)."""
    padded_shape = [-(-n // f) * f for n, f in zip(mask.shape, factors, strict=True)]
    dtype = np.uint8 if int(np.prod(factors)) <= 255 else np.uint16
    total = np.zeros(padded_shape, dtype)
    total[: mask.shape[0], : mask.shape[1], : mask.shape[2]] = mask
    # one axis at a time, adding strided slices (much faster than summing a 6D reshape over
    # its small inner axes)
    for axis, f in enumerate(factors):
        if f > 1:
            index = [slice(None)] * 3
            index[axis] = slice(0, None, f)
            summed = total[tuple(index)].copy()
            for offset in range(1, f):
                index[axis] = slice(offset, None, f)
                summed += total[tuple(index)]
            total = summed
    return total.astype(np.float32) / np.float32(np.prod(factors))


def _run(labels, intensity, jobs, workers, progress, background) -> dict:
    results: dict[int, tuple] = {}
    progress("meshing", 0)
    if workers == 1 or "fork" not in multiprocessing.get_all_start_methods():
        if background is not None:
            background()
        for done, job in enumerate(jobs, start=1):
            results[job.label] = mesh_structure(labels, job, intensity)
            progress("meshing", 100.0 * done / len(jobs))
        return results
    global _LABELS, _INTENSITY
    _LABELS, _INTENSITY = labels, intensity  # forked workers share them without copying
    try:
        # fork: the label map is shared copy-on-write; biggest structures first balances load
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            ordered = sorted(jobs, key=lambda j: -j.size)
            futures = {pool.submit(_mesh_in_worker, job): job.label for job in ordered}
            # the background work waits for a core the workers no longer need (the last few
            # structures), so it does not slow the largest structure, which finishes last
            waiting = background
            if waiting is not None and len(jobs) < workers:
                waiting, _ = None, waiting()
            for done, future in enumerate(as_completed(futures), start=1):
                results[futures[future]] = future.result()
                progress("meshing", 100.0 * done / len(jobs))
                if waiting is not None and len(jobs) - done < workers:
                    waiting, _ = None, waiting()
    finally:
        _LABELS = _INTENSITY = None
    return results


def _mesh_in_worker(job: _Job):
    assert _LABELS is not None
    return mesh_structure(_LABELS, job, _INTENSITY)
