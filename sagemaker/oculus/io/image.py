"""2D images for classification: JPEG, PNG or a single-frame DICOM -> uint8 pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CorruptFileError, InputError
from .budget import configure_pillow, max_image_pixels
from .checks import wrap_unexpected
from .detect import detect_format


@wrap_unexpected
def load_image(path: Path | str, *, max_pixels: int | None = None) -> np.ndarray:
    """Return the image as uint8 ``(H, W)`` (grey) or ``(H, W, 3)`` (RGB).

    DICOM values are rescaled to their modality units and windowed (the file's own window
    when it has one, else the full value range) to 0-255. Multi-frame or 3D inputs are
    refused with code ``not_2d``.
    """
    path = Path(path)
    # far above any real slice (4k x 4k is 16 Mpx) and within this process's memory (io.budget)
    max_pixels = max_pixels or max_image_pixels()
    configure_pillow(max_pixels)
    kind = detect_format(path)
    if kind in ("jpeg", "png"):
        return _load_picture(path, max_pixels)
    if kind == "dicom":
        return _load_dicom_image(path, max_pixels)
    raise InputError(
        f"{path.name!r} is a {kind} upload, i.e. a 3D scan; classification needs one 2D image "
        "(JPEG, PNG or single-frame DICOM).",
        code="not_2d",
    )


def _load_picture(path: Path, max_pixels: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            _check_pixels(img.size[0] * img.size[1], max_pixels, path)
            if getattr(img, "n_frames", 1) > 1:
                raise _not_2d(path, f"an animated image with {img.n_frames} frames")
            img.load()
            return _picture_to_array(img)
    except Image.DecompressionBombError as exc:  # its header declares more than twice the budget
        raise InputError(f"{path.name!r} declares more than {max_pixels} pixels; downscale it and upload again.",
                         code="image_too_large") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise CorruptFileError(
            f"{path.name!r} is a damaged or truncated image that cannot be decoded; upload it again.",
            code="corrupt_image",
        ) from exc


def _picture_to_array(img) -> np.ndarray:
    if img.mode in ("L", "RGB"):
        return np.asarray(img, dtype=np.uint8).copy()
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        return _to_uint8(np.asarray(img, dtype=np.float64))
    if img.mode in ("LA", "1") or (img.mode == "P" and _palette_is_grey(img)):
        return np.asarray(img.convert("L"), dtype=np.uint8).copy()
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def _palette_is_grey(img) -> bool:
    rgb = np.asarray(img.convert("RGB"))
    return bool(np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]))


def _load_dicom_image(path: Path, max_pixels: int) -> np.ndarray:
    from . import dicom

    ds = dicom.read_full(path)
    if not dicom.has_pixels(ds):
        raise dicom._no_pixels(path)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise _not_2d(path, f"a multi-frame DICOM with {frames} frames (a 3D scan)")
    _check_pixels(int(ds.get("Rows", 0)) * int(ds.get("Columns", 0)), max_pixels, path)
    pixels = dicom.decode_pixels(ds, path.name)
    if pixels.ndim == 3 and pixels.shape[-1] == 3:
        return pixels.astype(np.uint8) if pixels.dtype == np.uint8 else _to_uint8(pixels.astype(np.float64))
    if pixels.ndim != 2:
        raise _not_2d(path, f"DICOM pixel data of shape {pixels.shape}")
    values = pixels.astype(np.float64) * float(ds.get("RescaleSlope", 1) or 1) + float(ds.get("RescaleIntercept", 0) or 0)
    window = _window(ds)
    grey = _apply_window(values, *window) if window else _to_uint8(values)
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        grey = 255 - grey  # MONOCHROME1 shows low values white
    return grey


def _window(ds) -> tuple[float, float] | None:
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if center is None or width is None:
        return None
    # Multi-valued windows list alternatives; the first is the default presentation.
    first = lambda v: float(v[0]) if isinstance(v, (list, tuple)) or hasattr(v, "__len__") and not isinstance(v, (str, bytes)) else float(v)  # noqa: E731
    try:
        c, w = first(center), first(width)
    except (TypeError, ValueError, IndexError):
        return None
    return (c, w) if np.isfinite(c) and np.isfinite(w) and w > 0 else None


def _apply_window(values: np.ndarray, center: float, width: float) -> np.ndarray:
    low = center - width / 2.0
    scaled = (values - low) / width * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros(values.shape, dtype=np.uint8)
    low, high = float(finite.min()), float(finite.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    scaled = (np.nan_to_num(values, nan=low, posinf=high, neginf=low) - low) / (high - low) * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _check_pixels(count: int, max_pixels: int, path: Path) -> None:
    if count > max_pixels:
        raise InputError(
            f"{path.name!r} has {count} pixels; images over {max_pixels} pixels are refused. "
            "Downscale it and upload again.",
            code="image_too_large",
        )


def _not_2d(path: Path, what: str) -> InputError:
    return InputError(
        f"{path.name!r} is {what}; classification needs a single 2D image.", code="not_2d"
    )
