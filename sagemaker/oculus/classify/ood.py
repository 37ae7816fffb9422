"""Is this image a brain MRI slice like the ones the classifier learned from?

A cheap out-of-distribution check run on the image before the model, so a CT slice, a photo
or a blank picture is answered ``inconclusive`` with a reason instead of being forced into a
tumour class. It looks only at pixels (not at the network), so one reference serves every
model version trained on the same data:

1. *blank*: almost no contrast;
2. *colour*: real colour content (MRI slices are grayscale even when stored as RGB JPEGs);
3. *clipped background*: nearly every dark pixel is exactly black. Air in CT is -1000 HU, far
   below any display window, so a rendered CT slice has a noise-free black background; MRI
   magnitude images keep a noise floor in air. Threshold: above every training and
   validation image;
4. *look*: a small descriptor (16x16 thumbnail + intensity histogram + saturation and
   darkness fractions), scored against the training images by a Gaussian in PCA space
   (Mahalanobis distance over the leading components plus the reconstruction residual).
   The score threshold is a high quantile of the validation split's scores; the final test
   split only reports the resulting false-alarm rate.

The fitted reference lives next to the model (``ood.npz``) and the card's ``ood`` block
names it with its thresholds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from oculus.errors import ModelError

THUMB = 16
HIST_BINS = 16
#: Working size of the grayscale copy every statistic is taken on (bounds the cost of huge inputs).
WORK = 64
COMPONENTS = 24
#: Mean per-pixel chroma (max - min channel, 0-255) above which an image is "in colour".
COLOUR_CHROMA = 12.0
#: Standard deviation of the gray levels (0-255) below which an image is "blank".
BLANK_STD = 4.0
#: Share of validation images allowed above the look threshold.
LOOK_QUANTILE = 0.995
#: Gray level up to which a pixel counts as dark / as exactly black.
DARK_LEVEL, BLACK_LEVEL = 15, 1
#: Images with fewer dark pixels than this have no background to judge.
MIN_DARK_SHARE = 0.05
#: Larger inputs are box-reduced to at most about this many pixels a side before any statistic.
MAX_SIDE = 512
METHOD = ("pixel statistics before the model: blank (gray std < {blank}), colour (mean chroma > {chroma}), "
          "clipped background (share of dark pixels <= 15 that are <= 1 above {clipped}, i.e. above every training "
          "and validation image), and a look score: Mahalanobis distance of a {thumb}x{thumb} thumbnail + {bins}-bin histogram "
          "descriptor over {k} PCA components of the training split plus the reconstruction residual, "
          "threshold at the {q:.1%} quantile of the validation split")

REASONS = {
    "blank": "The image is blank or almost uniform, so there is nothing to classify.",
    "colour": "The image is in colour; the model only reads grayscale brain MRI slices.",
    "clipped": "The image has the perfectly black background of a rendered CT slice, not the noise floor of "
               "an MRI, so no tumour class is given.",
    "look": "The image does not look like the brain MRI slices the model was trained on (for example a CT "
            "slice, a photograph or another body part), so no tumour class is given.",
}


def _work_copies(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(gray at most ~MAX_SIDE a side uint8, gray WORKxWORK float32, RGB WORKxWORK int16 or None)
    from a uint8 array of any size."""
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    img = Image.fromarray(arr[:, :, :3] if arr.ndim == 3 else arr)
    if max(img.size) > MAX_SIDE:  # integer box reduction: keeps 4000x4000 inputs cheap
        img = img.reduce(-(-max(img.size) // MAX_SIDE))
    gray_img = img.convert("L")
    small = img.resize((WORK, WORK), Image.Resampling.BILINEAR)
    rgb = np.asarray(small, dtype=np.int16) if small.mode == "RGB" else None
    gray_small = np.asarray(gray_img.resize((WORK, WORK), Image.Resampling.BILINEAR), dtype=np.float32)
    return np.asarray(gray_img), gray_small, rgb


def clipped_background(gray: np.ndarray) -> float:
    """Share of dark pixels that are exactly black (0 when there is hardly any dark background)."""
    dark = gray <= DARK_LEVEL
    if dark.mean() < MIN_DARK_SHARE:
        return 0.0
    return float(np.mean(gray[dark] <= BLACK_LEVEL))


def chroma(rgb: np.ndarray | None) -> float:
    if rgb is None:
        return 0.0
    return float(np.mean(rgb.max(2) - rgb.min(2)))


def descriptor_from_gray(gray: np.ndarray) -> np.ndarray:
    """Look descriptor of a WORKxWORK gray image (0-255)."""
    g = gray / 255.0
    f = WORK // THUMB
    thumb = g.reshape(THUMB, f, THUMB, f).mean((1, 3)).ravel()
    hist = np.histogram(g, bins=HIST_BINS, range=(0.0, 1.0))[0] / g.size
    extra = np.array([np.mean(g > 0.98), np.mean(g < 0.04), g.std()])
    return np.concatenate([thumb, np.sqrt(hist), extra]).astype(np.float32)


def statistics(image: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """(look descriptor, {gray_std, chroma, clipped_background}) of one uint8 image array."""
    gray, gray_small, rgb = _work_copies(image)
    return descriptor_from_gray(gray_small), {"gray_std": float(gray_small.std()), "chroma": chroma(rgb),
                                              "clipped_background": clipped_background(gray)}


@dataclass
class OodReference:
    mean: np.ndarray
    components: np.ndarray  # (k, d) principal axes
    variances: np.ndarray  # (k,) variance along each axis
    residual_scale: float  # median residual norm on the training split
    threshold: float
    params: dict[str, Any]

    def score(self, desc: np.ndarray) -> np.ndarray:
        """Look score per descriptor row: mean squared z over components + scaled residual."""
        x = np.atleast_2d(desc) - self.mean
        z = x @ self.components.T
        maha = np.mean(z ** 2 / self.variances, axis=1)
        resid = np.linalg.norm(x - z @ self.components, axis=1) / self.residual_scale
        return maha + resid ** 2

    def check(self, image: np.ndarray) -> tuple[str | None, dict[str, float]]:
        """(reason key or None, the measured statistics) for one uint8 image array."""
        desc, stats = statistics(image)
        stats["look_score"] = float(self.score(desc)[0])
        return self.verdict(stats), {k: round(v, 4) for k, v in stats.items()}

    def verdict(self, stats: dict[str, float]) -> str | None:
        p = self.params
        if stats["gray_std"] < p["blank_std"]:
            return "blank"
        if stats["chroma"] > p["colour_chroma"]:
            return "colour"
        if stats["clipped_background"] > p["clipped_background"]:
            return "clipped"
        return "look" if stats["look_score"] > self.threshold else None

    def save(self, path: Path) -> None:
        np.savez(path, mean=self.mean, components=self.components, variances=self.variances,
                 residual_scale=self.residual_scale, threshold=self.threshold,
                 params=json.dumps(self.params))


def fit_reference(train_desc: np.ndarray, val_desc: np.ndarray, clipped: np.ndarray, k: int = COMPONENTS,
                  quantile: float = LOOK_QUANTILE) -> OodReference:
    """PCA Gaussian on the training descriptors; look threshold from the validation scores;
    clipped-background threshold just above every training and validation image (`clipped`)."""
    mean = train_desc.mean(0)
    x = train_desc - mean
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    comps = vt[:k]
    variances = (s[:k] ** 2) / (len(x) - 1)
    z = x @ comps.T
    resid = np.linalg.norm(x - z @ comps, axis=1)
    ref = OodReference(mean.astype(np.float32), comps.astype(np.float32), variances.astype(np.float32),
                       float(np.median(resid)), 0.0,
                       {"blank_std": BLANK_STD, "colour_chroma": COLOUR_CHROMA,
                        "clipped_background": float(np.ceil(np.max(clipped) * 100 + 1e-9) / 100), "components": k,
                        "quantile": quantile, "thumb": THUMB, "hist_bins": HIST_BINS, "work": WORK})
    ref.threshold = float(np.quantile(ref.score(val_desc), quantile))
    return ref


def load_reference(path: Path) -> OodReference:
    try:
        with np.load(path) as z:
            return OodReference(z["mean"], z["components"], z["variances"], float(z["residual_scale"]),
                                float(z["threshold"]), json.loads(str(z["params"])))
    except (OSError, KeyError, ValueError) as exc:
        raise ModelError(f"out-of-distribution reference {path.name} is unreadable: {exc}",
                         code="model_card_invalid") from exc


def card_block(ref: OodReference, file_name: str, measured: dict[str, Any]) -> dict[str, Any]:
    """The card's ``ood`` block: method, file, thresholds and what was measured."""
    p = ref.params
    return {"method": METHOD.format(blank=p["blank_std"], chroma=p["colour_chroma"], clipped=p["clipped_background"],
                                    thumb=p["thumb"],
                                    bins=p["hist_bins"], k=p["components"], q=p["quantile"]),
            "file": file_name, "look_threshold": round(ref.threshold, 4), "blank_std": p["blank_std"],
            "colour_chroma": p["colour_chroma"], "clipped_background": p["clipped_background"],
            "measured": measured}


def render_ct_slices(nifti: Path, windows: dict[str, tuple[float, float]], count: int = 3) -> list[tuple[str, np.ndarray]]:
    """Axial slices of a CT volume as uint8 images at each (level, width) window: probes for the check."""
    from ..nib import nib

    vol = nib.as_closest_canonical(nib.load(str(nifti)))
    data = np.asarray(vol.dataobj, dtype=np.float32)
    picks = np.linspace(data.shape[2] * 0.3, data.shape[2] * 0.7, count).astype(int)
    out = []
    for name, (level, width) in windows.items():
        lo = level - width / 2
        for z in picks:
            sl = np.rot90(data[:, :, z])  # RAS: rows anterior->posterior after rotation, as viewers show it
            img = np.clip((sl - lo) / width * 255.0, 0, 255).astype(np.uint8)
            out.append((f"{Path(nifti).name.split('.')[0]}:{name}:z{z}", img))
    return out


#: CT windows (level, width in HU) used to render probe slices.
CT_WINDOWS = {"brain": (40.0, 80.0), "soft_tissue": (40.0, 400.0), "bone": (500.0, 2000.0), "lung": (-600.0, 1500.0)}
