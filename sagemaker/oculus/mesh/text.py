"""Vectorised fixed-width number formatting for text mesh formats (no per-vertex Python).

Numbers are right-aligned in fixed-width fields padded with spaces; OBJ readers split on
whitespace, so ``v    12.3456   -3.2000`` reads exactly like ``v 12.3456 -3.2000``.
"""

from __future__ import annotations

import numpy as np

_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)
_SPACE, _MINUS, _DOT = ord(" "), ord("-"), ord(".")


def integer_columns(values: np.ndarray, *, zero_pad: bool = False) -> np.ndarray:
    """(n, k) non-negative ints -> (n, k * (width + 1)) uint8 text, each field led by a space.

    ``zero_pad`` pads with leading zeros instead of spaces (for tokens such as ``12//0012``
    that must not contain spaces; readers parse ``0012`` as 12).
    """
    values = np.asarray(values, dtype=np.int64)
    n, k = values.shape
    width = max(1, len(str(int(values.max())))) if values.size else 1
    chars = np.full((n, k, width + 1), _SPACE, dtype=np.uint8)
    rest = values.copy()
    for position in range(width, 0, -1):
        digit = rest % 10
        present = (rest > 0) | (position == width) | zero_pad
        chars[:, :, position] = np.where(present, _DIGITS[digit], _SPACE)
        rest //= 10
    return chars.reshape(n, k * (width + 1))


def decimal_columns(values: np.ndarray, decimals: int = 4) -> np.ndarray:
    """(n, k) floats -> (n, k * (width + 1)) uint8 text with ``decimals`` places, space-led."""
    values = np.asarray(values, dtype=np.float64)
    n, k = values.shape
    scaled = np.rint(np.abs(values) * 10**decimals).astype(np.int64)
    negative = (values < 0) & (scaled > 0)
    int_width = max(1, len(str(int(scaled.max() // 10**decimals)))) if values.size else 1
    width = 1 + int_width + 1 + decimals  # sign, integer part, dot, fraction
    chars = np.full((n, k, width + 1), _SPACE, dtype=np.uint8)
    rest = scaled.copy()
    column = width
    for _ in range(decimals):
        chars[:, :, column] = _DIGITS[rest % 10]
        rest //= 10
        column -= 1
    chars[:, :, column] = _DOT
    column -= 1
    sign_column = np.full((n, k), column, dtype=np.int64)
    for position in range(int_width):
        present = (rest > 0) | (position == 0)
        chars[:, :, column] = np.where(present, _DIGITS[rest % 10], _SPACE)
        sign_column = np.where(present, column - 1, sign_column)
        rest //= 10
        column -= 1
    rows, cols = np.nonzero(negative)
    chars[rows, cols, sign_column[rows, cols]] = _MINUS
    return chars.reshape(n, k * (width + 1))


def lines(prefix: bytes, *columns: np.ndarray) -> bytes:
    """Join a prefix, text columns and a newline per row into one bytes block."""
    if not columns or len(columns[0]) == 0:
        return b""
    n = len(columns[0])
    head = np.broadcast_to(np.frombuffer(prefix, dtype=np.uint8), (n, len(prefix)))
    newline = np.full((n, 1), ord("\n"), dtype=np.uint8)
    return np.concatenate([head, *columns, newline], axis=1).tobytes()
