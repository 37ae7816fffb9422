"""Reading a class-per-folder image dataset and splitting it without near-duplicate leaks.

The public brain-MRI dataset holds many near-identical slices (neighbouring slices of one
patient, re-encoded copies across its source collections). A plain random split puts such
twins on both sides and flatters validation, so images are grouped by a perceptual hash and
each group is assigned to train or validation as a unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from oculus.classify.preprocess import resize_for_model
from oculus.errors import InputError

CLASSES: tuple[str, ...] = ("glioma", "meningioma", "no_tumor", "pituitary")
#: Folder names used by public releases of the dataset -> our class names.
FOLDER_ALIASES = {"notumor": "no_tumor", "no_tumor": "no_tumor", "no tumor": "no_tumor",
                  "glioma": "glioma", "glioma_tumor": "glioma",
                  "meningioma": "meningioma", "meningioma_tumor": "meningioma",
                  "pituitary": "pituitary", "pituitary_tumor": "pituitary"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}
#: dHash grid: 16x16 gradient signs = 256 bits. (An 8x8 hash is too coarse for MRI slices:
#: at any useful threshold it chains most of the dataset into one group.)
HASH_SIZE = 16
#: Two images whose dHashes differ in at most this many of 256 bits count as near-duplicates.
#: Measured on the training folder: 10 % of images have a twin within 2 bits, the median
#: nearest neighbour is 29 bits away; 24 bits joins 2,092 images into groups of <= 31
#: (neighbouring slices, re-encoded copies) without chaining the dataset together.
NEAR_DUPLICATE_BITS = 24


@dataclass
class ImageSet:
    paths: list[Path]
    labels: np.ndarray  # int64 class index per image
    pixels: np.ndarray  # uint8 (N, H, W, C) already resized for the model
    hashes: np.ndarray  # uint8 (N, 32): packed 256-bit dHash per image


def list_images(data_dir: Path, limit_per_class: int | None = None) -> tuple[list[Path], np.ndarray]:
    """Image paths (sorted, deterministic) and labels from class folders under data_dir."""
    paths: list[Path] = []
    labels: list[int] = []
    found: set[str] = set()
    for folder in sorted(p for p in Path(data_dir).iterdir() if p.is_dir()):
        name = FOLDER_ALIASES.get(folder.name.lower())
        if name is None:
            raise InputError(f"unknown class folder {folder.name!r} in {data_dir}", code="invalid_dataset")
        files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if limit_per_class:
            files = files[:limit_per_class]
        paths += files
        labels += [CLASSES.index(name)] * len(files)
        found.add(name)
    missing = set(CLASSES) - found
    if missing:
        raise InputError(f"class folders missing in {data_dir}: {sorted(missing)}", code="invalid_dataset")
    return paths, np.asarray(labels, dtype=np.int64)


def dhash(img: Image.Image, hash_size: int = HASH_SIZE) -> np.ndarray:
    """Difference hash: signs of horizontal gradients on a (size+1) x size grayscale thumbnail,
    packed into hash_size**2 / 8 bytes."""
    small = np.asarray(img.convert("L").resize((hash_size + 1, hash_size), Image.Resampling.BILINEAR), dtype=np.int16)
    return np.packbits((small[:, 1:] > small[:, :-1]).ravel())


def load_image_set(data_dir: Path, color_mode: str, size: int, limit_per_class: int | None = None) -> ImageSet:
    """Decode every image once, resized for the model, plus its hash."""
    paths, labels = list_images(data_dir, limit_per_class)
    c = 1 if color_mode == "grayscale" else 3
    pixels = np.empty((len(paths), size, size, c), dtype=np.uint8)
    hashes = np.empty((len(paths), HASH_SIZE * HASH_SIZE // 8), dtype=np.uint8)
    for i, p in enumerate(paths):
        with Image.open(p) as img:
            img.load()
            hashes[i] = dhash(img)
            pixels[i] = resize_for_model(img, color_mode, size)
    return ImageSet(paths, labels, pixels, hashes)


def near_duplicate_groups(hashes: np.ndarray, max_bits: int = NEAR_DUPLICATE_BITS) -> np.ndarray:
    """Group id per image: connected components of the graph 'hashes within max_bits'."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(hashes)
    rows, cols = [], []
    for start in range(0, n, 256):  # chunked all-pairs Hamming distances to bound memory
        dist = np.unpackbits(hashes[start:start + 256, None, :] ^ hashes[None, :, :], axis=-1).sum(-1)
        a, b = np.nonzero(dist <= max_bits)
        rows.append(a + start)
        cols.append(b)
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = csr_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def grouped_stratified_split(labels: np.ndarray, groups: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val): whole groups go to one side; each class gets ~val_fraction in val.

    A group is filed under its majority class; groups are visited in a seeded random order and
    sent to validation while that class still needs images.
    """
    rng = np.random.default_rng(seed)
    uniq = np.unique(groups)
    rng.shuffle(uniq)
    members = {g: np.nonzero(groups == g)[0] for g in uniq}
    need = {c: int(round(val_fraction * np.sum(labels == c))) for c in np.unique(labels)}
    val: list[int] = []
    for g in uniq:
        idx = members[g]
        cls = int(np.bincount(labels[idx]).argmax())
        if need[cls] >= len(idx) or (need[cls] > 0 and len(idx) <= 2):
            val += idx.tolist()
            need[cls] -= len(idx)
    val_mask = np.zeros(len(labels), dtype=bool)
    val_mask[val] = True
    return np.nonzero(~val_mask)[0], np.nonzero(val_mask)[0]
