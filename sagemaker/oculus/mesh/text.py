"""Vectorised number formatting for text mesh formats (no per-vertex Python).

Conventional output (``v 12.3456 -3.2 ...`` with single spaces, ``f 12//12 13//13 14//14``)
from fixed-width numpy byte arrays: every field is laid out right-aligned in a fixed width
padded with a sentinel byte (NUL, which never occurs in the text), digits come from lookup
tables of decimal strings (one gather per number instead of a divide per digit), and
``lines`` drops the sentinel bytes in one pass, leaving variable-width, single-space text.
"""

from __future__ import annotations

import numpy as np

PAD = 0  #: sentinel byte for "no character here", removed by ``lines``
_SPACE, _MINUS, _DOT, _SLASH, _NEWLINE = (ord(c) for c in " -./\n")


def digit_table(count: int) -> np.ndarray:
    """Decimal strings of 0 .. count-1: (count, width) uint8, right-aligned, PAD on the left."""
    count = max(int(count), 1)
    width = len(str(count - 1))
    table = np.full((count, width), PAD, dtype=np.uint8)
    values = np.arange(count, dtype=np.int64)
    rest = values.copy()
    for column in range(width - 1, -1, -1):
        present = (rest > 0) | (column == width - 1)
        table[:, column] = np.where(present, ord("0") + rest % 10, PAD)
        rest //= 10
    return table


def gather(table: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``table[index]`` for a (count, width) uint8 table: (*index.shape, width) uint8.

    Rows are viewed as one opaque ``width``-byte item, so each number is one copy.
    """
    width = table.shape[1]
    rows = np.ascontiguousarray(table).view(f"V{width}").reshape(-1)
    return rows[index].view(np.uint8).reshape(*np.shape(index), width)


_FRACTION_TABLES: dict[int, np.ndarray] = {}


def _fraction_table(decimals: int) -> np.ndarray:
    """Zero-padded strings "00..0" .. "99..9" of ``decimals`` digits."""
    if decimals not in _FRACTION_TABLES:
        count = 10**decimals
        table = np.empty((count, decimals), dtype=np.uint8)
        rest = np.arange(count, dtype=np.int64)
        for column in range(decimals - 1, -1, -1):
            table[:, column] = ord("0") + rest % 10
            rest //= 10
        _FRACTION_TABLES[decimals] = table
    return _FRACTION_TABLES[decimals]


def integer_columns(values: np.ndarray, table: np.ndarray | None = None) -> np.ndarray:
    """(n, k) non-negative ints -> (n, k * (width + 1)) uint8: `` <digits>`` per field."""
    values = np.asarray(values, dtype=np.int64)
    n, k = values.shape
    if table is None:
        table = digit_table(int(values.max()) + 1 if values.size else 1)
    chars = np.empty((n, k, table.shape[1] + 1), dtype=np.uint8)
    chars[:, :, 0] = _SPACE
    chars[:, :, 1:] = gather(table, values)
    return chars.reshape(n, -1)


def decimal_columns(values: np.ndarray, decimals: int = 4) -> np.ndarray:
    """(n, k) floats -> (n, k * field) uint8: `` [-]<int>.<decimals digits>`` per field."""
    values = np.asarray(values, dtype=np.float64)
    n, k = values.shape
    scaled = np.rint(np.abs(values) * 10**decimals).astype(np.int64)
    whole, fraction = np.divmod(scaled, 10**decimals)
    integers = digit_table(int(whole.max()) + 1 if values.size else 1)
    int_width = integers.shape[1]
    chars = np.empty((n, k, 3 + int_width + decimals), dtype=np.uint8)
    chars[:, :, 0] = _SPACE
    # the sign sits just left of the padded integer digits: once the padding is dropped it
    # touches the first digit
    chars[:, :, 1] = np.where((values < 0) & (scaled > 0), _MINUS, PAD)
    chars[:, :, 2:2 + int_width] = gather(integers, whole)
    chars[:, :, 2 + int_width] = _DOT
    chars[:, :, 3 + int_width:] = gather(_fraction_table(decimals), fraction)
    return chars.reshape(n, -1)


def face_columns(faces: np.ndarray, table: np.ndarray) -> np.ndarray:
    """(n, 3) 1-based indices -> (n, 3 * (2 * width + 3)) uint8: `` a//a b//b c//c``."""
    n = len(faces)
    digits = gather(table, np.asarray(faces, dtype=np.int64))
    width = table.shape[1]
    chars = np.empty((n, 3, 2 * width + 3), dtype=np.uint8)
    chars[:, :, 0] = _SPACE
    chars[:, :, 1:1 + width] = digits
    chars[:, :, 1 + width:3 + width] = _SLASH
    chars[:, :, 3 + width:] = digits
    return chars.reshape(n, -1)


def lines(prefix: bytes, *columns: np.ndarray) -> np.ndarray:
    """A prefix, text columns and a newline per row, padding dropped: a flat uint8 array.

    Write it with ``file.write(array)`` (no extra copy) or take ``.tobytes()``.
    """
    if not columns or len(columns[0]) == 0:
        return np.zeros(0, dtype=np.uint8)
    n = len(columns[0])
    widths = [len(prefix), *(c.shape[1] for c in columns), 1]
    block = np.empty((n, sum(widths)), dtype=np.uint8)
    block[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    at = len(prefix)
    for column in columns:
        block[:, at:at + column.shape[1]] = column
        at += column.shape[1]
    block[:, at] = _NEWLINE
    flat = block.reshape(-1)
    return flat[flat != PAD]
