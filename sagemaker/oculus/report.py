"""report.json: what was made, from what, by which engine, with per-structure measurements.

Schema (version ``REPORT_SCHEMA_VERSION``) is documented in docs/outputs.md. The pipeline
takes per-structure statistics from the sums the meshing workers measure on each structure's
bounding-box crop (``mesh_statistics``, in parallel, no extra pass over the volume);
``label_statistics`` computes the same numbers in one vectorised pass (``np.bincount``) for
callers without meshes, and the tests check that both agree.
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


def label_statistics(labels: np.ndarray, intensity: np.ndarray | None, affine: np.ndarray) -> dict[int, dict]:
    """Per label present: voxel count, volume, mean/std intensity, world bbox and centroid."""
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
            "bboxMinMm": [round(float(v), 3) for v in low],
            "bboxMaxMm": [round(float(v), 3) for v in high],
            "centroidMm": [round(float(v), 3) for v in centres[label]],
        }
    return stats


def mesh_statistics(meshes: list[StructureMesh], affine: np.ndarray) -> dict[int, dict]:
    """The ``label_statistics`` entries, from the sums measured while meshing."""
    voxel_ml = abs(float(np.linalg.det(affine[:3, :3]))) / 1000.0
    stats: dict[int, dict] = {}
    for mesh in meshes:
        v = mesh.voxel_stats
        count = v["voxelCount"]
        mean = std = None
        if "intensitySum" in v:
            mean = v["intensitySum"] / count
            std = float(np.sqrt(max(v["intensitySumSquares"] / count - mean * mean, 0.0)))
        low, high = _world_box(tuple(slice(a, b) for a, b in v["box"]), affine)
        centre = affine[:3, :3] @ np.asarray(v["centroidIndex"]) + affine[:3, 3]
        stats[mesh.label] = {
            "voxelCount": int(count),
            "volumeMl": round(count * voxel_ml, 4),
            "meanIntensity": None if mean is None else round(float(mean), 3),
            "stdIntensity": None if std is None else round(float(std), 3),
            "bboxMinMm": [round(float(x), 3) for x in low],
            "bboxMaxMm": [round(float(x), 3) for x in high],
            "centroidMm": [round(float(x), 3) for x in centre],
        }
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
