"""Each label's bounding box, the first thing every use of a label map needs.

Its own module, light to import (numpy and ``scipy.ndimage`` only), so a label map's boxes can
be found on the thread that loads it while the mesher's modules import on another
(``pipeline``).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import ndimage

#: Label maps smaller than this are searched for bounding boxes in one piece.
THREADED_BOXES_MIN_VOXELS = 8_000_000


def label_boxes(labels: np.ndarray, threads: int | None = None) -> list[tuple[slice, ...] | None]:
    """``scipy.ndimage.find_objects(labels)``: per label 1..max, its bounding box or None.

    Searched over the C-ordered view (a Fortran-ordered map's transpose: no copy, memory read
    in order) and, for a large map, in ``threads`` slabs at once (default: the CPUs this
    process may use; ``find_objects`` releases the GIL), the slabs' boxes merged.
    """
    if fortran_ordered(labels):
        return [None if box is None else box[::-1] for box in label_boxes(labels.T, threads)]
    threads = worker_count(threads, labels.shape[0]) if labels.ndim else 1
    if threads <= 1 or labels.size < THREADED_BOXES_MIN_VOXELS:
        return ndimage.find_objects(labels)
    starts = np.linspace(0, labels.shape[0], threads + 1).astype(int)
    with ThreadPoolExecutor(threads) as pool:
        found = list(pool.map(lambda a, b: ndimage.find_objects(labels[a:b]), starts[:-1], starts[1:]))
    boxes: list[tuple[slice, ...] | None] = []
    for index in range(max(len(part) for part in found)):
        hits = [(start, part[index]) for start, part in zip(starts[:-1], found, strict=True)
                if index < len(part) and part[index] is not None]
        if not hits:
            boxes.append(None)
            continue
        first = slice(min(s + box[0].start for s, box in hits), max(s + box[0].stop for s, box in hits))
        rest = [slice(min(box[axis].start for _, box in hits), max(box[axis].stop for _, box in hits))
                for axis in range(1, labels.ndim)]
        boxes.append((first, *rest))
    return boxes


def fortran_ordered(array: np.ndarray) -> bool:
    return array.flags.f_contiguous and not array.flags.c_contiguous


def zero_padded(array: np.ndarray, width: int) -> np.ndarray:
    """``np.pad(array, width)``: zeros around, the same memory order, in half its time (on a
    structure's crop ``np.pad``'s general machinery costs as much as the copy itself)."""
    padded = np.zeros([n + 2 * width for n in array.shape], array.dtype, order="F" if fortran_ordered(array) else "C")
    padded[tuple(slice(width, width + n) for n in array.shape)] = array
    return padded


def worker_count(workers: int | None, jobs: int) -> int:
    """``workers``, or the CPUs this process may use, but at least 1 and at most ``jobs``."""
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(workers, jobs))
