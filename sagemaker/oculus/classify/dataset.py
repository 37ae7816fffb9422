"""Reading a class-per-folder image dataset and splitting it without near-duplicate leaks.

The public brain-MRI dataset holds many near-identical slices (neighbouring slices of one
patient, re-encoded copies across its source collections). A plain random split puts such
twins on both sides and flatters validation, so images are grouped by a perceptual hash and
each group is assigned to one side as a unit.

The dataset also merges several source collections that differ in look (JPEG colour mode,
how much of the frame the head fills, brightness and contrast). `honest_splits` makes three
disjoint sets: train, validation (picks epochs and temperature) and a final test set that
nothing is tuned on, stratified by class x look cluster so every look is represented.
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
#: The split the v1 ensemble was trained on: 20 % validation, seed 1337. The final test set is
#: drawn from inside that validation split so v1 and later models are scored on images none
#: of them was trained on.
LEGACY_VAL_FRACTION = 0.2
SPLIT_SEED = 1337
#: Share of the legacy validation split that becomes the final test set.
FINAL_TEST_SHARE = 0.5
#: Number of acquisition-look clusters used to stratify the final test split.
LOOK_CLUSTERS = 4
LOOK_FEATURES = ("rgb_jpeg", "content_aspect", "content_fill", "mean", "std", "dark_fraction")


@dataclass
class ImageSet:
    paths: list[Path]
    labels: np.ndarray  # int64 class index per image
    pixels: np.ndarray  # uint8 (N, H, W, C) already resized for the model
    hashes: np.ndarray  # uint8 (N, 32): packed 256-bit dHash per image
    looks: np.ndarray  # float32 (N, len(LOOK_FEATURES)): acquisition-look descriptors


@dataclass
class Splits:
    train: np.ndarray
    validation: np.ndarray
    final_test: np.ndarray
    groups: np.ndarray  # near-duplicate group id per image
    look: np.ndarray  # look cluster per image

    def summary(self, labels: np.ndarray) -> dict:
        """Per-split counts by class and by look cluster (for the card)."""
        out = {}
        for name in ("train", "validation", "final_test"):
            idx = getattr(self, name)
            out[name] = {"images": int(len(idx)),
                         "per_class": {c: int(np.sum(labels[idx] == i)) for i, c in enumerate(CLASSES)},
                         "per_look": {str(k): int(np.sum(self.look[idx] == k)) for k in range(LOOK_CLUSTERS)}}
        return out


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


def look_descriptor(img: Image.Image) -> np.ndarray:
    """Cheap acquisition-look features of one source image (before resizing).

    JPEG colour mode separates the source collections; the content box (pixels above a dark
    level) says how the head was framed; the intensity profile says how it was windowed.
    """
    gray = np.asarray(img.convert("L"), dtype=np.float32)
    on = gray > 20
    rows, cols = np.nonzero(on.any(1))[0], np.nonzero(on.any(0))[0]
    if len(rows) and len(cols):
        bh, bw = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
        aspect, fill = bw / bh, bw * bh / gray.size
    else:
        aspect, fill = 1.0, 0.0
    return np.array([img.mode != "L", aspect, fill, gray.mean() / 255, gray.std() / 255, 1 - on.mean()],
                    dtype=np.float32)


def look_clusters(looks: np.ndarray, k: int = LOOK_CLUSTERS, seed: int = SPLIT_SEED) -> np.ndarray:
    """k-means (seeded, on standardised features) cluster id per image, ordered by cluster size."""
    from scipy.cluster.vq import kmeans2

    z = (looks - looks.mean(0)) / np.maximum(looks.std(0), 1e-6)
    _, lab = kmeans2(z.astype(np.float64), k, seed=np.random.default_rng(seed), minit="++", iter=50)
    order = np.argsort(-np.bincount(lab, minlength=k), kind="stable")
    return np.argsort(order)[lab]


def load_image_set(data_dir: Path, color_mode: str, size: int, limit_per_class: int | None = None) -> ImageSet:
    """Decode every image once, resized for the model, plus its hash."""
    paths, labels = list_images(data_dir, limit_per_class)
    c = 1 if color_mode == "grayscale" else 3
    pixels = np.empty((len(paths), size, size, c), dtype=np.uint8)
    hashes = np.empty((len(paths), HASH_SIZE * HASH_SIZE // 8), dtype=np.uint8)
    looks = np.empty((len(paths), len(LOOK_FEATURES)), dtype=np.float32)
    for i, p in enumerate(paths):
        with Image.open(p) as img:
            img.load()
            hashes[i] = dhash(img)
            looks[i] = look_descriptor(img)
            pixels[i] = resize_for_model(img, color_mode, size)
    return ImageSet(paths, labels, pixels, hashes, looks)


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
    """Indices (train, val): whole groups go to one side; each stratum gets ~val_fraction in val.

    `labels` are the strata (class ids, or class x look ids). A group is filed under its
    majority stratum; groups are visited in a seeded random order and
    sent to validation while that stratum still needs images.
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


def honest_splits(labels: np.ndarray, hashes: np.ndarray, looks: np.ndarray, seed: int = SPLIT_SEED,
                  test_share: float = FINAL_TEST_SHARE) -> Splits:
    """Train / validation / final test, disjoint by near-duplicate group.

    Train is exactly v1's training side (class-stratified, `seed`); its old validation side is
    divided by whole groups, stratified by class x look cluster, into validation and final test.
    """
    groups = near_duplicate_groups(hashes)
    look = look_clusters(looks, seed=seed)
    train, held = grouped_stratified_split(labels, groups, LEGACY_VAL_FRACTION, seed)
    strata = labels[held] * LOOK_CLUSTERS + look[held]
    val_part, test_part = grouped_stratified_split(strata, groups[held], test_share, seed + 1)
    return Splits(train, held[val_part], held[test_part], groups, look)
