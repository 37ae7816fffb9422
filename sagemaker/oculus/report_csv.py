"""report.csv: report.json's structures, one row per structure, for spreadsheets.

Columns are fixed (``COLUMNS``, documented in docs/outputs.md) whatever the input: a value the
report does not have (intensities of a label map meshed without its scan) is an empty cell.
Vectors are split into one column per axis; the colour is its hex code. Comma-separated, a
header row, ``\\r\\n`` line ends (RFC 4180, what spreadsheets expect), UTF-8 without BOM.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

_AXES = ("X", "Y", "Z")
_VECTORS = ("centroidMm", "bboxMinMm", "bboxMaxMm")

# report.json keys, used as column names as they are; the vectors get one column per axis
_SCALARS = (
    "label", "name", "system", "volumeMl", "voxelCount", "surfaceAreaMm2", "touchesBorder",
    "meanIntensity", "stdIntensity", "minIntensity", "p5Intensity", "medianIntensity",
    "p95Intensity", "maxIntensity",
)
_MESH = ("triangles", "vertices", "maxDeviationMm")

COLUMNS: tuple[str, ...] = (
    *_SCALARS,
    *(f"{key[:-2]}{axis}Mm" for key in _VECTORS for axis in _AXES),
    *_MESH,
    "color",
)


def report_rows(report: dict) -> list[list[str]]:
    """The header and one row of cells per structure, in the report's order."""
    rows = [list(COLUMNS)]
    for entry in report["structures"]:
        cells = [_cell(entry.get(key)) for key in _SCALARS]
        cells += [_cell(entry[key][axis]) for key in _VECTORS for axis in range(3)]
        cells += [_cell(entry.get(key)) for key in _MESH]
        cells.append(entry["color"]["hex"])
        rows.append(cells)
    return rows


def write_report_csv(report: dict, path: Path) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(report_rows(report))
    Path(path).write_bytes(buffer.getvalue().encode("utf-8"))


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # before numbers: a bool is an int
        return "true" if value else "false"
    return str(value)
