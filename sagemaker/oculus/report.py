"""report.json: what was made, from what, by which engine, with per-structure measurements.

Schema (version ``REPORT_SCHEMA_VERSION``) is documented in docs/outputs.md. The pipeline
takes per-structure statistics from the sums the meshing workers measure on each structure's
bounding-box crop (``mesh_statistics``, in parallel, no extra pass over the volume);
``label_statistics`` computes the same numbers in one vectorised pass (``np.bincount``) for
callers without meshes, and the tests check that both agree. The intensity distribution
(min, max, percentiles) needs the voxel values themselves, not sums: both take it from each
structure's bounding-box crop (``intensity_distribution``), never from a full-volume mask.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from . import __version__
from .colors import hex_color, system_of
from .mesh.model import StructureMesh
from .segment.base import Segmentation
from .volume import COORDINATE_SYSTEM, COORDINATE_SYSTEM_NOTE, Volume

REPORT_SCHEMA_VERSION = "1.0"


#: Percentiles reported per structure (numpy's default linear interpolation between voxels).
PERCENTILES = (5, 50, 95)
_NO_DISTRIBUTION = {"minIntensity": None, "maxIntensity": None, "medianIntensity": None,
                    "p5Intensity": None, "p95Intensity": None}


def intensity_distribution(labels: np.ndarray, intensity: np.ndarray | None, label: int,
                           box: tuple[slice, ...]) -> dict:
    """Min, max, median, 5th and 95th percentile of one label's voxel values, from its crop."""
    if intensity is None:
        return dict(_NO_DISTRIBUTION)
    if labels.flags.f_contiguous and not labels.flags.c_contiguous:
        # nibabel's Fortran order: crop the transposed views (memory read in order, same values)
        labels, intensity, box = labels.T, intensity.T, box[::-1]
    values = intensity[box][labels[box] == label]
    # one partition for all five order statistics
    low, p5, median, p95, high = np.percentile(values.astype(np.float64), (0, *PERCENTILES, 100))
    return {"minIntensity": round(float(low), 3), "maxIntensity": round(float(high), 3),
            "medianIntensity": round(float(median), 3),
            "p5Intensity": round(float(p5), 3), "p95Intensity": round(float(p95), 3)}


def touches_border(box: tuple[slice, ...], shape: tuple[int, ...]) -> bool:
    """The structure reaches the scan's edge: it may go on outside, its volume a lower bound."""
    return any(s.start == 0 or s.stop == n for s, n in zip(box, shape, strict=True))


def label_statistics(labels: np.ndarray, intensity: np.ndarray | None, affine: np.ndarray) -> dict[int, dict]:
    """Per label present: voxel count, volume, intensity statistics, world bbox, centroid and
    whether it touches the scan's border."""
    flat = labels.reshape(-1)
    where = np.flatnonzero(flat)
    ids = flat[where].astype(np.intp)
    size = int(ids.max()) + 1 if ids.size else 1
    counts = np.bincount(ids, minlength=size)
    mean = std = None
    if intensity is not None:
        values = intensity.reshape(-1)[where].astype(np.float64)
        sums = np.bincount(ids, values, minlength=size)
        squares = np.bincount(ids, values * values, minlength=size)
        del values
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = sums / counts
            std = np.sqrt(np.maximum(squares / counts - mean * mean, 0.0))
    # mean voxel index per axis, one axis at a time to bound memory
    centre_index = np.zeros((size, 3))
    strides = (labels.shape[1] * labels.shape[2], labels.shape[2], 1)
    for axis, stride in enumerate(strides):
        coordinate = (where // stride) % labels.shape[axis]
        with np.errstate(invalid="ignore", divide="ignore"):
            centre_index[:, axis] = np.bincount(ids, coordinate.astype(np.float64), minlength=size) / counts
    del where, ids
    boxes = ndimage.find_objects(labels)
    voxel_ml = abs(float(np.linalg.det(affine[:3, :3]))) / 1000.0
    centres = centre_index @ affine[:3, :3].T + affine[:3, 3]
    stats: dict[int, dict] = {}
    for label, box in enumerate(boxes, start=1):
        if box is None:
            continue
        low, high = _world_box(box, affine)
        stats[label] = {
            "voxelCount": int(counts[label]),
            "volumeMl": round(float(counts[label]) * voxel_ml, 4),
            "meanIntensity": None if mean is None else round(float(mean[label]), 3),
            "stdIntensity": None if std is None else round(float(std[label]), 3),
            **intensity_distribution(labels, intensity, label, box),
            "bboxMinMm": [round(float(v), 3) for v in low],
            "bboxMaxMm": [round(float(v), 3) for v in high],
            "centroidMm": [round(float(v), 3) for v in centres[label]],
            "touchesBorder": touches_border(box, labels.shape),
        }
    return stats


def mesh_statistics(meshes: list[StructureMesh], affine: np.ndarray, labels: np.ndarray,
                    intensity: np.ndarray | None = None) -> dict[int, dict]:
    """The ``label_statistics`` entries, from the sums measured while meshing and the boxes
    the mesher cropped (``labels``/``intensity``: the grids it meshed, for the distribution)."""
    voxel_ml = abs(float(np.linalg.det(affine[:3, :3]))) / 1000.0
    stats: dict[int, dict] = {}
    for mesh in meshes:
        v = mesh.voxel_stats
        count = v["voxelCount"]
        mean = std = None
        if "intensitySum" in v:
            mean = v["intensitySum"] / count
            std = float(np.sqrt(max(v["intensitySumSquares"] / count - mean * mean, 0.0)))
        box = tuple(slice(a, b) for a, b in v["box"])
        low, high = _world_box(box, affine)
        centre = affine[:3, :3] @ np.asarray(v["centroidIndex"]) + affine[:3, 3]
        stats[mesh.label] = {
            "voxelCount": int(count),
            "volumeMl": round(count * voxel_ml, 4),
            "meanIntensity": None if mean is None else round(float(mean), 3),
            "stdIntensity": None if std is None else round(float(std), 3),
            **intensity_distribution(labels, intensity, mesh.label, box),
            "bboxMinMm": [round(float(x), 3) for x in low],
            "bboxMaxMm": [round(float(x), 3) for x in high],
            "centroidMm": [round(float(x), 3) for x in centre],
            "touchesBorder": touches_border(box, labels.shape),
        }
        if "maxDeviationMm" in v:  # measured while meshing (mesh.fidelity.boundary_deviation)
            stats[mesh.label]["maxDeviationMm"] = round(float(v["maxDeviationMm"]), 3)
            stats[mesh.label]["maxDeviationVoxels"] = round(float(v["maxDeviationVoxels"]), 3)
    return stats


def _world_box(box: tuple[slice, ...], affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World-space min/max of the bounding box's outer voxel faces."""
    edges = [(s.start - 0.5, s.stop - 0.5) for s in box]
    corners = np.array([[x, y, z] for x in edges[0] for y in edges[1] for z in edges[2]])
    world = corners @ affine[:3, :3].T + affine[:3, 3]
    return world.min(axis=0), world.max(axis=0)


def build_report(
    volume: Volume,
    segmentation: Segmentation,
    meshes: list[StructureMesh],
    stats: dict[int, dict],
    *,
    options: dict,
    intensity_unit: str | None,
) -> dict:
    """The report.json document.

    Deterministic: it holds no timings or dates, so the same input and options give the same
    bytes (timings are returned in ``write_outputs``' summary instead).
    """
    structures = []
    for mesh in meshes:
        entry = {
            "label": mesh.label,
            "name": mesh.name,
            "system": system_of(mesh.name),
            **stats[mesh.label],
            "surfaceAreaMm2": round(mesh.surface_area_mm2, 2),
            "triangles": mesh.triangle_count,
            "vertices": int(len(mesh.vertices)),
            "color": {"hex": hex_color(mesh.color), "rgb": list(mesh.color)},
        }
        structures.append(entry)
    return {
        "schemaVersion": REPORT_SCHEMA_VERSION,
        "generator": {"name": "IRIS Oculus", "version": __version__},
        "engine": segmentation.engine.to_dict(),
        "coordinateSystem": {"name": COORDINATE_SYSTEM, "units": "mm", "note": COORDINATE_SYSTEM_NOTE},
        "input": {
            "shape": list(volume.shape),
            "spacingMm": [round(v, 6) for v in volume.spacing],
            "affine": [[round(float(v), 6) for v in row] for row in np.asarray(segmentation.affine)],
            "sourceFormat": volume.source_format,
            "modality": volume.modality,
            "warnings": list(volume.warnings),
        },
        "options": options,
        "intensityUnit": intensity_unit,
        "structures": structures,
        "totals": {
            "structures": len(structures),
            "triangles": int(sum(m.triangle_count for m in meshes)),
            "vertices": int(sum(len(m.vertices) for m in meshes)),
            "voxelCount": int(sum(s["voxelCount"] for s in structures)),
            "volumeMl": round(sum(s["volumeMl"] for s in structures), 4),
        },
        "warnings": list(segmentation.warnings),
    }
