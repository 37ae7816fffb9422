"""preview.png: readable title, slices in RAS without reorienting the volume, 3D panel."""

from __future__ import annotations

import nibabel as nib
import numpy as np
from PIL import Image, ImageDraw

from oculus.mesh.extract import extract_meshes
from oculus.preview import _draw_title, _ras_slice, _render_3d


def ink_columns(text: str) -> np.ndarray:
    canvas = Image.new("RGB", (300, 24))
    _draw_title(ImageDraw.Draw(canvas), text)
    return np.asarray(canvas).max(axis=(0, 2)) > 0


def test_title_keeps_a_visible_gap_between_words():
    columns = ink_columns("IRIS Oculus")
    start, end = np.flatnonzero(columns)[[0, -1]]
    blank_runs = [len(run) for run in "".join("." if c else " " for c in columns[start:end]).split(".") if run]
    assert max(blank_runs) >= 4  # a space, not the 2 px the font gives it
    assert ink_columns("IRIS Oculus").sum() == ink_columns("IRISOculus").sum()  # same glyphs


def test_centre_slices_match_a_full_reorientation_to_ras():
    rng = np.random.default_rng(3)
    for trial in range(12):
        affine = np.eye(4)
        affine[:3, :3] = 0
        for row, column in enumerate(rng.permutation(3)):
            affine[row, column] = rng.choice([-1, 1]) * rng.uniform(0.5, 3)
        volume = rng.integers(0, 9, (5, 7, 6))
        volume = np.asfortranarray(volume) if trial % 2 else volume
        orientation = nib.orientations.io_orientation(affine)
        ras = nib.orientations.apply_orientation(volume, orientation)
        for axis in range(3):
            expected = np.take(ras, ras.shape[axis] // 2, axis=axis)
            assert np.array_equal(_ras_slice(volume, orientation, axis), expected)


def test_3d_panel_fills_a_coarse_mesh_without_holes():
    labels = np.zeros((30, 30, 30), np.uint8)
    i, j, k = np.ogrid[:30, :30, :30]
    labels[(i - 15) ** 2 + (j - 15) ** 2 + (k - 15) ** 2 <= 12**2] = 1
    [sphere] = extract_meshes(labels, np.eye(4), {1: "liver"}, reduction_percent=99, workers=1)
    assert sphere.triangle_count <= 300  # big triangles: a vertex splat would leave gaps
    panel = np.asarray(_render_3d([sphere], 128)).astype(int)
    lit = (np.abs(panel - 16).sum(axis=2) > 0)
    rows, cols = np.nonzero(lit)
    centre, radius = (rows.mean(), cols.mean()), (rows.max() - rows.min()) / 2
    r, c = np.ogrid[:128, :128]
    disc = (r - centre[0]) ** 2 + (c - centre[1]) ** 2 <= (radius - 3) ** 2
    assert lit[disc].all()


def test_widest_extent_is_the_largest_corner_offset_across_or_down():
    from oculus.preview import _widest_extent

    rng = np.random.default_rng(5)
    pixel = (rng.random((50, 3)) * 400).astype(np.float32)
    faces = rng.integers(0, 50, (200, 3))
    corners = pixel[faces, :2]  # (F, 3, 2): every other corner's offset from the first
    assert np.array_equal(_widest_extent(pixel, faces), np.abs(corners[:, 1:] - corners[:, :1]).max(axis=(1, 2)))
