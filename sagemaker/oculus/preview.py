"""preview.png: axial, coronal and sagittal slices through the centre with the label overlay
in structure colours, plus a small 3D view of the meshes (numpy z-buffer splat, seen from the
front), with the engine's name written on it.

Slices are shown in radiological convention (patient's right on the image's left, anterior
and superior up) after reorienting the grid to RAS with nibabel (flips/transposes only).
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
from PIL import Image, ImageDraw

from .mesh.model import StructureMesh

PANEL_HEIGHT = 256
_OVERLAY_ALPHA = 0.45
_MAX_SPLATS = 200_000


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
    labels_ras = nib.orientations.apply_orientation(labels, orientation)
    image_ras = None if intensity is None else nib.orientations.apply_orientation(intensity, orientation)
    spacing = np.linalg.norm(affine[:3, :3], axis=0)[np.argsort(orientation[:, 0])]
    lut = np.zeros((int(labels.max()) + 1, 3), np.float32)
    for label, rgb in colors.items():
        if label < len(lut):
            lut[label] = rgb
    centre = [n // 2 for n in labels_ras.shape]
    panels = []
    for axis in (2, 1, 0):  # axial, coronal, sagittal
        label_slice = np.take(labels_ras, centre[axis], axis=axis)
        gray = _gray(np.take(image_ras, centre[axis], axis=axis), is_ct) if image_ras is not None else None
        panels.append(_panel(label_slice, gray, lut, axis, spacing))
    panels.append(_render_3d(meshes, PANEL_HEIGHT))
    width = sum(p.width for p in panels) + 8 * (len(panels) + 1)
    canvas = Image.new("RGB", (width, PANEL_HEIGHT + 36), (16, 18, 24))
    x = 8
    for panel in panels:
        canvas.paste(panel, (x, 28))
        x += panel.width + 8
    draw = ImageDraw.Draw(canvas)
    draw.text((8, 8), title, fill=(235, 235, 235))
    return canvas


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
    """Front (anterior) view: splat vertices and face centres (3x3 px), nearest wins, shaded."""
    image = np.full((size, size, 3), 16.0, np.float32)
    if not meshes:
        return Image.fromarray(image.astype(np.uint8), "RGB")
    points, normals, colors = [], [], []
    for mesh in meshes:
        centres = mesh.vertices[mesh.faces].mean(axis=1)
        face_normals = mesh.normals[mesh.faces].mean(axis=1)
        points += [mesh.vertices, centres]
        normals += [mesh.normals, face_normals]
        rgb = np.asarray(mesh.color, np.float32)
        colors += [np.broadcast_to(rgb, (len(mesh.vertices), 3)), np.broadcast_to(rgb, (len(centres), 3))]
    p, n, c = np.concatenate(points), np.concatenate(normals), np.concatenate(colors)
    if len(p) > _MAX_SPLATS:  # a regular subsample is plenty for a thumbnail
        keep = np.linspace(0, len(p) - 1, _MAX_SPLATS).astype(np.int64)
        p, n, c = p[keep], n[keep], c[keep]
    low, high = p.min(axis=0), p.max(axis=0)
    scale = (size - 8) / max(float(max(high[0] - low[0], high[2] - low[2])), 1e-6)
    column = ((high[0] - p[:, 0]) * scale + 4).astype(np.int64)  # patient's right on the left
    top = (size - (high[2] - low[2]) * scale) / 2  # centre the body vertically
    row = ((high[2] - p[:, 2]) * scale + top).astype(np.int64)  # superior up
    # the viewer stands anterior (+y) looking towards -y: larger y is nearer and drawn last
    order = np.argsort(p[:, 1], kind="stable")
    shade = (0.3 + 0.7 * np.clip(n[:, 1] / np.maximum(np.linalg.norm(n, axis=1), 1e-6), 0, 1))[:, None]
    shaded = np.repeat((c * shade)[order], 9, axis=0)
    offsets = np.array([(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)])
    # all 9 pixels of a point, point after point in depth order: the nearest is written last
    rows = np.clip((row[order][:, None] + offsets[:, 0]).ravel(), 0, size - 1)
    cols = np.clip((column[order][:, None] + offsets[:, 1]).ravel(), 0, size - 1)
    image[rows, cols] = shaded
    return Image.fromarray(image.clip(0, 255).astype(np.uint8), "RGB")


def write_preview(path: Path, **kwargs) -> None:
    render_preview(**kwargs).save(path, format="PNG", optimize=False)
