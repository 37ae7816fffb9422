"""Pixels in -> model input: colour modes, sizes and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from oculus.classify.preprocess import preprocess
from oculus.errors import InputError

GRAY = {"color_mode": "grayscale", "resize": "bilinear", "size": [32, 32], "scale": 1 / 255, "offset": 0.0}
RGB = {"color_mode": "rgb", "resize": "bilinear", "size": [32, 32], "scale": 1.0, "offset": 0.0}


def _gradient(h: int = 64, w: int = 48) -> np.ndarray:
    return (np.add.outer(np.arange(h), np.arange(w)) * 255 // (h + w - 2)).astype(np.uint8)


def test_grayscale_spec_accepts_2d_channel_last_and_rgb_of_the_same_picture():
    g = _gradient()
    a = preprocess(g, GRAY)
    b = preprocess(g[:, :, None], GRAY)
    c = preprocess(np.repeat(g[:, :, None], 3, axis=2), GRAY)
    assert a.shape == (32, 32, 1) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert 0.0 <= a.min() and a.max() <= 1.0 and a.max() > 0.9


def test_rgb_spec_keeps_0_255_range_and_replicates_gray():
    x = preprocess(_gradient(), RGB)
    assert x.shape == (32, 32, 3)
    assert x.max() > 200  # EfficientNet wants raw 0-255 pixels, not [0, 1]
    np.testing.assert_array_equal(x[..., 0], x[..., 2])


def test_rgba_drops_alpha():
    rgba = np.dstack([np.repeat(_gradient()[:, :, None], 3, axis=2), np.full((64, 48), 7, np.uint8)])
    np.testing.assert_array_equal(preprocess(rgba, RGB), preprocess(rgba[:, :, :3], RGB))


@pytest.mark.parametrize("bad", [np.zeros((8, 8), np.uint16), np.zeros((8, 8, 2), np.uint8), np.zeros((2, 8, 8, 3), np.uint8)])
def test_unusable_arrays_are_refused_with_a_code(bad):
    with pytest.raises(InputError) as err:
        preprocess(bad, GRAY)
    assert err.value.code == "invalid_image"
