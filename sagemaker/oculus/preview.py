"""preview.png: axial, coronal and sagittal slices through the centre with the label overlay
in structure colours, plus a small 3D view of the meshes (numpy z-buffer splat, seen from the
front), with the engine's name written on it.

Slices are shown in radiological convention (patient's right on the image's left, anterior
and superior up) after reorienting the grid to RAS with nibabel (flips/transposes only).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .mesh.model import StructureMesh, column_bounds, cross_rows, row_norms
from .nib import nib

PANEL_HEIGHT = 256
_OVERLAY_ALPHA = 0.45
_MAX_STEPS = 24  # samples per triangle edge: bounds the work for a few huge triangles
_FILL_PIXELS = 1.5  # triangles wider than this are filled; smaller ones are covered by their vertices' 2 x 2 px
_WORD_GAP = 5


def render_preview(
    intensity: np.ndarray | None,
    labels: np.ndarray,
    affine: np.ndarray,
    colors: dict[int, tuple[int, int, int]],
    meshes: list[StructureMesh],
    title: str,
    *,
    is_ct: bool,
) -> Image.Image:
    orientation = nib.orientations.io_orientation(affine)
    spacing = np.linalg.norm(affine[:3, :3], axis=0)[np.argsort(orientation[:, 0])]
    lut = np.zeros((int(labels.max()) + 1, 3), np.float32)
    for label, rgb in colors.items():
        if label < len(lut):
            lut[label] = rgb
    panels = []
    for axis in (2, 1, 0):  # axial, coronal, sagittal
        label_slice = _ras_slice(labels, orientation, axis)
        gray = _gray(_ras_slice(intensity, orientation, axis), is_ct) if intensity is not None else None
        panels.append(_panel(label_slice, gray, lut, axis, spacing))
    panels.append(_render_3d(meshes, PANEL_HEIGHT))
    width = sum(p.width for p in panels) + 8 * (len(panels) + 1)
    canvas = Image.new("RGB", (width, PANEL_HEIGHT + 36), (16, 18, 24))
    x = 8
    for panel in panels:
        canvas.paste(panel, (x, 28))
        x += panel.width + 8
    _draw_title(ImageDraw.Draw(canvas), title)
    return canvas


def _draw_title(draw: ImageDraw.ImageDraw, title: str) -> None:
    """Word by word: Pillow's small default font draws a space 2 px wide, which reads as none."""
    x = 8.0
    for word in title.split(" "):
        draw.text((x, 8), word, fill=(235, 235, 235))
        x += draw.textlength(word) + _WORD_GAP


def _ras_slice(volume: np.ndarray, orientation: np.ndarray, ras_axis: int) -> np.ndarray:
    """The centre slice across RAS axis ``ras_axis``, its two axes in RAS order and direction.

    The same plane as reorienting the whole grid to RAS and taking its centre slice, but read
    with plain slicing: reorienting copied the whole volume (seconds on a 512 x 512 x 400 map).
    """
    source = int(np.flatnonzero(orientation[:, 0] == ras_axis)[0])
    centre = volume.shape[source] // 2
    index = [slice(None)] * 3
    index[source] = volume.shape[source] - 1 - centre if orientation[source, 1] < 0 else centre
    plane = volume[tuple(index)]
    rest = [a for a in range(3) if a != source]
    if orientation[rest[0], 0] > orientation[rest[1], 0]:
        plane, rest = plane.T, rest[::-1]
    for position, axis in enumerate(rest):
        if orientation[axis, 1] < 0:
            plane = np.flip(plane, axis=position)
    return plane


def _gray(slice_: np.ndarray, is_ct: bool) -> np.ndarray:
    values = slice_.astype(np.float32)
    low, high = (-400.0, 600.0) if is_ct else tuple(np.percentile(values, [1, 99]))
    return np.clip((values - low) / max(high - low, 1e-6), 0, 1) * 255.0


def _panel(label_slice, gray, lut, axis, spacing) -> Image.Image:
    # rows/columns of the remaining axes, then flip to radiological display
    rgb = lut[label_slice]
    if gray is None:
        base = np.zeros(label_slice.shape + (3,), np.float32)
        alpha = (label_slice > 0)[..., None].astype(np.float32)
    else:
        base = np.repeat(gray[..., None], 3, axis=2)
        alpha = (label_slice > 0)[..., None] * _OVERLAY_ALPHA
    pixels = base * (1 - alpha) + rgb * alpha
    # axes left: axial (x, y), coronal (x, z), sagittal (y, z); show the 2nd as rows, top = max
    pixels = np.flip(np.transpose(pixels, (1, 0, 2)), axis=0)
    # axial/coronal: patient's right (max x) on the image's left; sagittal: anterior on the left
    pixels = np.flip(pixels, axis=1)
    remaining = [a for a in range(3) if a != axis]
    width_mm, height_mm = (pixels.shape[1] * spacing[remaining[0]], pixels.shape[0] * spacing[remaining[1]])
    scale = PANEL_HEIGHT / max(width_mm, height_mm, 1e-6)  # longer side fills the panel
    size = (max(1, round(width_mm * scale)), max(1, round(height_mm * scale)))
    image = Image.fromarray(np.ascontiguousarray(pixels.clip(0, 255).astype(np.uint8)), "RGB")
    framed = Image.new("RGB", (size[0], PANEL_HEIGHT), (0, 0, 0))
    framed.paste(image.resize(size, Image.Resampling.BILINEAR), (0, (PANEL_HEIGHT - size[1]) // 2))
    return framed


def _render_3d(meshes: list[StructureMesh], size: int) -> Image.Image:
    """Front (anterior) view of the meshes as they are, nearest sample wins (a z-buffer).

    Every front-facing vertex is a sample shaded by its normal; a triangle wider than
    ``_FILL_PIXELS`` is also filled with samples about a pixel apart, shaded by its face's
    normal, so a coarse, tolerance-decimated surface shows without holes. Each sample is drawn
    2 x 2 px. A decimated mesh's triangles are mostly smaller than a pixel here: per-vertex work
    instead of per-triangle sampling is what keeps this well under the meshing's own time.
    """
    image = np.full((size, size, 3), 16.0, np.float32)
    if not meshes:
        return Image.fromarray(image.astype(np.uint8), "RGB")
    bounds = [column_bounds(m.vertices) for m in meshes]
    low = np.min([b[0] for b in bounds], axis=0).astype(np.float64)
    high = np.max([b[1] for b in bounds], axis=0).astype(np.float64)
    scale = (size - 8) / max(float(max(high[0] - low[0], high[2] - low[2])), 1e-6)
    top = (size - (high[2] - low[2]) * scale) / 2  # centre the body vertically
    origin = np.asarray([high[0] * scale + 4, high[2] * scale + top, 0.0], np.float32)
    # pixel coordinates: column (patient's right on the left), row (superior up), depth (the
    # viewer stands anterior, +y, looking towards -y: larger y is nearer)
    to_pixel = np.asarray([[-scale, 0, 0], [0, 0, 1], [0, -scale, 0]], np.float32)
    points, shades = [], []
    for mesh in meshes:
        color = np.asarray(mesh.color, np.float32)
        pixel = mesh.vertices.astype(np.float32) @ to_pixel + origin
        facing = mesh.normals[:, 1] > 0
        points.append(pixel[facing])
        shades.append((0.3 + 0.7 * mesh.normals[facing, 1:2]) * color)
        edge = _widest_extent(pixel, mesh.faces)
        big = np.flatnonzero(edge > _FILL_PIXELS)
        if len(big) == 0:
            continue
        a, b, c = (pixel[mesh.faces[big, i]] for i in range(3))
        world = [mesh.vertices[mesh.faces[big, i]].astype(np.float32) for i in range(3)]
        normal = cross_rows(world[1] - world[0], world[2] - world[0])
        front = normal[:, 1] > 0  # back faces are hidden behind front ones anyway
        if not front.any():
            continue
        a, b, c, normal = a[front], b[front], c[front], normal[front]
        light = 0.3 + 0.7 * normal[:, 1] / np.maximum(row_norms(normal), 1e-12)
        steps = np.clip(np.ceil(edge[big][front]).astype(np.int64), 1, _MAX_STEPS)  # samples per edge
        u, v, face = _triangle_samples(steps)
        p0 = a[face]
        points.append(p0 + u[:, None].astype(np.float32) * (b[face] - p0) + v[:, None].astype(np.float32) * (c[face] - p0))
        shades.append(light[face, None] * color)
    p, shade = np.concatenate(points), np.concatenate(shades).clip(0, 255)
    # z-buffer: per pixel the nearest (largest depth) of the samples covering it
    rows, cols = p[:, 1].astype(np.int64), p[:, 0].astype(np.int64)
    pixels = np.concatenate([np.clip(rows + dr, 0, size - 1) * size + np.clip(cols + dc, 0, size - 1)
                             for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1))])  # 2 x 2 px per sample
    depth = np.tile(p[:, 2], 4)
    nearest = np.full(size * size, -np.inf, np.float32)
    np.maximum.at(nearest, pixels, depth)
    winner = depth == nearest[pixels]
    flat = image.reshape(-1, 3)
    flat[pixels[winner]] = np.tile(shade, (4, 1))[winner]
    return Image.fromarray(image.astype(np.uint8), "RGB")


def _widest_extent(pixel: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Per face: how far its other corners lie from its first, across or down, at most (pixels;
    a column at a time: a reduction over (F, 2, 2) blocks of corners cost five times as much)."""
    x, y = pixel[:, 0], pixel[:, 1]
    x0, y0 = x[faces[:, 0]], y[faces[:, 0]]
    extent = np.abs(x[faces[:, 1]] - x0)
    for other in (np.abs(x[faces[:, 2]] - x0), np.abs(y[faces[:, 1]] - y0), np.abs(y[faces[:, 2]] - y0)):
        np.maximum(extent, other, out=extent)
    return extent


def _triangle_samples(steps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Barycentric grid (u, v, u + v <= 1) with ``steps[f]`` points per edge, per face ``f``."""
    counts = steps * (steps + 1) // 2
    face = np.repeat(np.arange(len(steps)), counts)
    k = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)  # index within the face
    n = np.repeat(steps, counts)
    # the k-th point of a triangular grid: row i holds n - i points
    i = np.floor((2 * n + 1 - np.sqrt((2 * n + 1) ** 2 - 8 * k)) / 2).astype(np.int64)
    j = k - (i * (2 * n - i + 1)) // 2
    spacing = 1.0 / np.maximum(n - 1, 1)
    return i * spacing, j * spacing, face


def write_preview(path: Path, **kwargs) -> None:
    render_preview(**kwargs).save(path, format="PNG", optimize=False)
