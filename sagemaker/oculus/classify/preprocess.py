"""Image -> model input, shared by training and serving so both see identical pixels.

The recipe is described by the model card's ``preprocessing`` block:
``{"color_mode": "grayscale"|"rgb", "resize": "bilinear", "size": [H, W],
"scale": float, "offset": float}``; the model input is ``pixel * scale + offset`` as float32,
shape (H, W, 1) for grayscale and (H, W, 3) for RGB.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from oculus.errors import InputError

_RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}


def to_pil(image: np.ndarray) -> Image.Image:
    """A uint8 grayscale (H, W) / (H, W, 1) or RGB(A) (H, W, 3|4) array as a Pillow image."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise InputError(f"expected a uint8 image array, got dtype {arr.dtype}", code="invalid_image")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        return Image.fromarray(arr, mode="L")
    if arr.ndim == 3 and arr.shape[2] == 3:
        return Image.fromarray(arr, mode="RGB")
    if arr.ndim == 3 and arr.shape[2] == 4:
        return Image.fromarray(arr, mode="RGBA").convert("RGB")
    raise InputError(f"expected a 2D grayscale or RGB image, got shape {arr.shape}", code="invalid_image")


def resize_for_model(img: Image.Image, color_mode: str, size: int | tuple[int, int], resize: str = "bilinear") -> np.ndarray:
    """Convert colour mode, then resize; returns uint8 (H, W, C)."""
    mode = {"grayscale": "L", "rgb": "RGB"}[color_mode]
    img = img.convert(mode)
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    if img.size != (w, h):
        img = img.resize((w, h), _RESAMPLE[resize])
    arr = np.asarray(img, dtype=np.uint8)
    return arr[:, :, None] if arr.ndim == 2 else arr


def preprocess(image: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    """One image array -> float32 model input following the card's preprocessing spec."""
    arr = resize_for_model(to_pil(image), spec["color_mode"], tuple(spec["size"]), spec.get("resize", "bilinear"))
    return scale_pixels(arr, spec)


def scale_pixels(arr: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    return arr.astype(np.float32) * np.float32(spec["scale"]) + np.float32(spec.get("offset", 0.0))
