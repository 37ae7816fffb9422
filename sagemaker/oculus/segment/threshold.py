"""The ``threshold`` engine: classical CT segmentation when no TotalSegmentator weights exist.

Hounsfield thresholds plus connected components give body surface, skeleton, left and right
lung and the central airway (trachea and main bronchi). Structures are approximate: in
contrast-enhanced CT, contrast-filled heart chambers and vessels (> 250 HU) count as skeleton;
lungs include their vessels. Every output says so through the engine note.

Scans that are not CT (MR, or intensities that are not Hounsfield units) get the body outline
only: an Otsu foreground threshold, its largest component, holes filled, and a warning that
says no organs were segmented.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ..errors import SegmentationError
from ..progress import Progress, no_progress
from ..volume import Volume
from .base import EngineInfo, Segmentation, SegmentOptions

ENGINE_NAME = "threshold"
ENGINE_VERSION = "1.0"
DEFAULT_NOTE = (
    "Threshold fallback: TotalSegmentator weights are not installed here; "
    "structures are approximate."
)

# Label ids and names (TotalSegmentator's names where such a class exists).
BODY, SKELETON, LUNG_LEFT, LUNG_RIGHT, TRACHEA = 1, 2, 3, 4, 5
CLASSES = {
    BODY: "body",
    SKELETON: "skeleton",
    LUNG_LEFT: "lung_left",
    LUNG_RIGHT: "lung_right",
    TRACHEA: "trachea",
}

TISSUE_HU = -500.0  # above: body tissue; below: air / lung
AIR_HU = -400.0  # air and lung parenchyma inside the body
PURE_AIR_HU = -950.0  # gas in bowel and airways; lung parenchyma is mostly above it
BONE_HU = 250.0
MIN_LUNG_ML = 15.0
MAX_GAS_FRACTION_IN_LUNG = 0.45  # bowel gas is mostly < -950 HU, aerated lung mostly not
MIN_BONE_PIECE_ML = 0.2
MAX_MARROW_HOLE_CM2 = 20.0  # fill marrow inside cortical rings, not whole body cross-sections
TABLE_GAP_MM = 3.0  # opening radius that detaches the scanner table and clothing


# ---------------------------------------------------------------- geometry helpers


def axial_axis(affine: np.ndarray) -> int:
    """The voxel axis that runs closest to world superior-inferior (z)."""
    directions = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
    return int(np.argmax(np.abs(directions[2])))


def world_x(affine: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """World RAS x (mm, + towards the patient's right) of voxel index rows ``coords`` (N x 3)."""
    return coords @ affine[0, :3] + affine[0, 3]


def iterations_for(mm: float, spacing) -> int:
    return max(1, int(round(mm / min(spacing))))


def fill_holes_per_slice(mask: np.ndarray, axis: int, max_hole_voxels: int | None = None) -> np.ndarray:
    """2D hole filling in every slice across ``axis`` (optionally only holes up to a size).

    ``binary_fill_holes`` slice by slice, in one labelling of the whole stack: the background's
    4-connected components within each slice; those that reach no edge of their slice are holes.
    """
    structure = np.zeros((3, 3, 3), bool)
    structure[tuple(1 if a == axis else slice(None) for a in range(3))] = ndi.generate_binary_structure(2, 1)
    labels, count = ndi.label(~mask, structure)
    hole = np.ones(count + 1, bool)
    hole[0] = False  # the mask itself
    for edge_axis in range(3):
        if edge_axis != axis:
            for end in (0, -1):
                edge = [slice(None)] * 3
                edge[edge_axis] = end
                hole[labels[tuple(edge)]] = False
    if max_hole_voxels is not None:
        hole &= np.bincount(labels.ravel(), minlength=count + 1) <= max_hole_voxels
    return mask | hole[labels]


def largest_component(mask: np.ndarray) -> np.ndarray:
    labels, n = ndi.label(mask)
    if n == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(sizes.argmax())


# ---------------------------------------------------------------- the structures


def not_ct_reason(volume: Volume) -> str | None:
    """Why this volume's intensities are not CT Hounsfield units (e.g. MR), or None for CT."""
    if volume.modality and volume.modality.upper() not in ("CT",):
        return f"it is {volume.modality}"
    sample = np.asarray(volume.data[::2, ::2, ::2], dtype=np.float32)
    low, high = np.percentile(sample, [0.5, 99.5])
    soft_tissue = float(np.mean((sample > -200) & (sample < 200)))
    if low > -500 or high > 4000 or low < -3100 or soft_tissue < 0.05:
        return "its intensities are not Hounsfield units (no air near -1000, no soft tissue near 0)"
    return None


FOREGROUND_FRACTION = 0.1  # of the robust intensity range: MR background is near its low end
BODY_ONLY_WARNING = (
    "This scan is not CT: {reason}. Only the body outline is available from the fallback "
    "engine; organs need TotalSegmentator's MR task (total_mr)."
)


def foreground_body_mask(data: np.ndarray, spacing, axis: int) -> np.ndarray:
    """Body outline of a non-CT scan: voxels above ``FOREGROUND_FRACTION`` of the robust
    intensity range (2nd-98th percentile, as FSL's BET does), the largest component, small gaps
    closed and holes filled (dark bone, fat or air inside the body belong to it).

    Otsu's threshold was tried and is too high for MR: dark tissue (cortical bone, muscle in
    some sequences) breaks the outer ring and the body falls apart on some slices.
    """
    values = np.asarray(data, dtype=np.float32)
    low, high = np.percentile(values[::2, ::2, ::2], [2, 98])
    if high <= low:
        raise SegmentationError("This scan is blank (one intensity throughout): no body to outline.",
                                code="empty_segmentation")
    threshold = low + FOREGROUND_FRACTION * (high - low)
    radius = iterations_for(TABLE_GAP_MM / 2, spacing)
    foreground = ndi.binary_opening(values > threshold, iterations=1)
    body = largest_component(foreground)
    if not body.any():
        raise SegmentationError("No body found in this scan (no foreground above the background).",
                                code="empty_segmentation")
    body = ndi.binary_closing(body, iterations=radius, border_value=0) | body
    return ndi.binary_fill_holes(fill_holes_per_slice(body, axis))


def body_mask(hu: np.ndarray, spacing, axis: int) -> np.ndarray:
    """Everything inside the skin: largest tissue component, table removed, holes filled."""
    tissue = hu > TISSUE_HU
    radius = iterations_for(TABLE_GAP_MM / 2, spacing)
    core = largest_component(ndi.binary_opening(tissue, iterations=radius))
    if not core.any():
        raise SegmentationError("No body found in this CT (no tissue above -500 HU).", code="empty_segmentation")
    # Give back the thin surface layer the opening removed, but only next to the body.
    body = ndi.binary_dilation(core, iterations=radius) & tissue | core
    return fill_holes_per_slice(body, axis)


def skeleton_mask(hu: np.ndarray, body: np.ndarray, spacing, axis: int) -> np.ndarray:
    bone = (hu > BONE_HU) & body
    in_plane = [s for i, s in enumerate(spacing) if i != axis]
    max_hole = int(MAX_MARROW_HOLE_CM2 * 100 / (in_plane[0] * in_plane[1]))
    bone = drop_small_components(bone, MIN_BONE_PIECE_ML, spacing)
    return fill_holes_per_slice(bone, axis, max_hole_voxels=max_hole)



def drop_small_components(mask: np.ndarray, min_ml: float, spacing) -> np.ndarray:
    labels, n = ndi.label(mask, structure=np.ones((3, 3, 3)))
    if n == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    keep = sizes * float(np.prod(spacing)) / 1000.0 >= min_ml
    keep[0] = False
    return keep[labels]


def pure_air_fraction(hu: np.ndarray, labels: np.ndarray, index: int, box) -> float:
    return float(np.mean(hu[box][labels[box] == index] < PURE_AIR_HU))


def exterior_air(hu: np.ndarray, body: np.ndarray) -> np.ndarray:
    """Air outside the body: components outside the body mask that are almost all pure air.

    Lungs cut by a cropped field of view also lie outside the (slice-filled) body mask, but
    they are aerated tissue, not pure air, so they stay.
    """
    labels, _ = ndi.label((hu < AIR_HU) & ~body)
    exterior = np.zeros(hu.shape, bool)
    for index, box in enumerate(ndi.find_objects(labels), start=1):
        if box is not None and pure_air_fraction(hu, labels, index, box) > 0.9:
            exterior[box] |= labels[box] == index
    return exterior


def field_of_view_cuts_body(body: np.ndarray, axis: int) -> bool:
    """True when the body fills much of the in-plane image border (a cropped reconstruction)."""
    in_plane = [a for a in range(3) if a != axis]
    faces = [np.take(body, i, axis=a) for a in in_plane for i in (0, -1)]
    return float(np.mean([f.mean() for f in faces])) > 0.25


def lung_components(hu: np.ndarray, body: np.ndarray, spacing, axis: int) -> tuple[np.ndarray, list[int]]:
    """Air not outside the body, labelled; returns (labels, ids of the components that are lung).

    Lung is aerated tissue: at least MIN_LUNG_ML, mostly above pure-air HU (bowel gas is not),
    and inside the body unless the field of view cuts through the chest (then lungs reach the
    image border and the slice-filled body mask cannot enclose them).
    """
    labels, _ = ndi.label((hu < AIR_HU) & ~exterior_air(hu, body))
    voxel_ml = float(np.prod(spacing)) / 1000.0
    cropped = field_of_view_cuts_body(body, axis)
    lung_ids = []
    for index, box in enumerate(ndi.find_objects(labels), start=1):
        if box is None:
            continue
        inside = labels[box] == index
        if inside.sum() * voxel_ml < MIN_LUNG_ML:
            continue
        if pure_air_fraction(hu, labels, index, box) > MAX_GAS_FRACTION_IN_LUNG:
            continue
        if cropped or body[box][inside].mean() >= 0.5:
            lung_ids.append(index)
    return labels, lung_ids


def superior_slice(mask: np.ndarray, axis: int, affine: np.ndarray) -> int:
    """Index (along ``axis``) of the most superior slice that contains ``mask``."""
    present = np.flatnonzero(mask.any(axis=tuple(i for i in range(3) if i != axis)))
    return int(present.max() if affine[2, axis] > 0 else present.min())


def trachea_mask(hu: np.ndarray, lungs: np.ndarray, axis: int, affine: np.ndarray, spacing) -> np.ndarray:
    """Central airway: pure air grown from airway-sized blobs at the top of the air tree.

    The trachea is air near -1000 HU; grown down from its cross-section in the most superior
    slice it stays in the tube to the bronchi. The threshold is raised step by step and growth
    stops before the step where it leaks into lung parenchyma (a volume jump).
    """
    empty = np.zeros_like(lungs)
    if not lungs.any():
        return empty
    box = ndi.find_objects(lungs.astype(np.uint8))[0]  # grow only inside the air tree's box
    empty[box] = _trachea_in_box(hu[box], lungs[box], axis, affine, spacing)
    return empty


def _trachea_in_box(hu: np.ndarray, lungs: np.ndarray, axis: int, affine: np.ndarray, spacing) -> np.ndarray:
    empty = np.zeros_like(lungs)
    top = [slice(None)] * 3
    top[axis] = superior_slice(lungs, axis, affine)
    top = tuple(top)
    seeds = np.zeros_like(lungs)
    seeds[top] = tube_cross_sections(hu[top], lungs[top], spacing, axis)
    if not seeds.any():
        return empty
    best = empty
    for threshold in (-980.0, -960.0, -940.0, -920.0, -900.0):
        grown = ndi.binary_propagation(seeds & (hu < threshold), mask=(hu < threshold) & lungs)
        if best.any() and grown.sum() > 2.5 * best.sum():
            break  # leaked into the lungs: keep the previous threshold
        best = grown
    voxel_ml = float(np.prod(spacing)) / 1000.0
    return best if best.sum() * voxel_ml >= 1.0 else empty


def tube_cross_sections(hu_plane: np.ndarray, air_plane: np.ndarray, spacing, axis: int) -> np.ndarray:
    """Airway-sized (0.5-6 cm^2) blobs of pure air in an axial plane; lung apices are not pure air."""
    in_plane = [s for i, s in enumerate(spacing) if i != axis]
    pixel_cm2 = in_plane[0] * in_plane[1] / 100.0
    blobs, n = ndi.label(air_plane)
    seeds = np.zeros_like(air_plane)
    for index in range(1, n + 1):
        blob = blobs == index
        area = blob.sum() * pixel_cm2
        if 0.5 <= area <= 6.0 and np.mean(hu_plane[blob] < PURE_AIR_HU) >= 0.5:
            seeds |= blob
    return seeds


def split_left_right(
    labels: np.ndarray, lung_ids: list[int], body: np.ndarray, affine: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Assign lung components to the patient's left/right by world x against the body midline."""
    body_coords = np.argwhere(body[::2, ::2, ::2]) * 2
    midline = float(np.median(world_x(affine, body_coords)))
    left = np.zeros(labels.shape, bool)
    right = np.zeros(labels.shape, bool)
    warnings: list[str] = []
    for index in lung_ids:
        coords = np.argwhere(labels == index)
        is_right = world_x(affine, coords) > midline
        share_right = float(is_right.mean())
        if share_right >= 0.9:
            right[tuple(coords.T)] = True
        elif share_right <= 0.1:
            left[tuple(coords.T)] = True
        else:  # both lungs joined (through the airways or a thin junction): cut at the midline
            right[tuple(coords[is_right].T)] = True
            left[tuple(coords[~is_right].T)] = True
            warnings.append("Left and right lung touched; they were separated at the body midline.")
    return left, right, warnings


# ---------------------------------------------------------------- the engine


class ThresholdEngine:
    """Classical CT segmentation (approximate) for when TotalSegmentator cannot run."""

    name = ENGINE_NAME

    def __init__(self, reason: str | None = None) -> None:
        self.note = reason or DEFAULT_NOTE

    def info(self) -> EngineInfo:
        return EngineInfo(name=ENGINE_NAME, version=ENGINE_VERSION, task=None, degraded=True, note=self.note)

    def segment(
        self, volume: Volume, options: SegmentOptions | None = None, progress: Progress = no_progress
    ) -> Segmentation:
        info = self.info()
        reason = not_ct_reason(volume)
        if reason is None:
            labels, warnings = self.label_map(volume, progress)
        else:
            labels, warnings = self.body_only(volume, reason, progress)
            info = EngineInfo(name=ENGINE_NAME, version=ENGINE_VERSION, task=None, degraded=True,
                              note=f"{self.note} {warnings[0]}")
        present = {int(v) for v in np.unique(labels)} - {0}
        return Segmentation(
            labels=labels,
            affine=volume.affine.copy(),
            classes={i: CLASSES[i] for i in sorted(present)},
            engine=info,
            warnings=warnings,  # the loader's own warnings stay on the volume (report.input)
        )

    @staticmethod
    def body_only(volume: Volume, reason: str, progress: Progress = no_progress) -> tuple[np.ndarray, list[str]]:
        """A non-CT scan: the body outline alone, with the warning that says so."""
        progress("segmenting", 5)
        body = foreground_body_mask(volume.data, volume.spacing, axial_axis(volume.affine))
        progress("segmenting", 100)
        return np.where(body, np.uint8(BODY), np.uint8(0)), [BODY_ONLY_WARNING.format(reason=reason)]

    @staticmethod
    def label_map(volume: Volume, progress: Progress = no_progress) -> tuple[np.ndarray, list[str]]:
        hu = np.asarray(volume.data, dtype=np.float32)
        spacing = volume.spacing
        axis = axial_axis(volume.affine)
        progress("segmenting", 5)
        body = body_mask(hu, spacing, axis)
        progress("segmenting", 35)
        air_labels, lung_ids = lung_components(hu, body, spacing, axis)
        lungs = np.isin(air_labels, lung_ids) if lung_ids else np.zeros_like(body)
        trachea = trachea_mask(hu, lungs, axis, volume.affine, spacing)
        progress("segmenting", 55)
        if trachea.any():
            air_labels = np.where(trachea, 0, air_labels)
        left, right, warnings = split_left_right(air_labels, lung_ids, body, volume.affine)
        progress("segmenting", 70)
        bone = skeleton_mask(hu, body, spacing, axis)
        progress("segmenting", 95)
        labels = np.zeros(hu.shape, np.uint8)
        body |= left | right | trachea  # the body contains every structure
        labels[body] = BODY
        labels[bone] = SKELETON
        labels[left] = LUNG_LEFT
        labels[right] = LUNG_RIGHT
        labels[trachea] = TRACHEA
        if not lung_ids:
            warnings.append("No lungs found in this scan (none in the field of view, or not aerated).")
        progress("segmenting", 100)
        return labels, warnings
