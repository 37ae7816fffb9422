"""report.csv from a hand-written report: columns, cells, empty values, bytes."""

from __future__ import annotations

import csv
import io

from oculus.report_csv import COLUMNS, report_rows, write_report_csv

LIVER = {
    "label": 5, "name": "liver", "system": "digestive", "voxelCount": 38634, "volumeMl": 1043.118,
    "meanIntensity": 101.2, "stdIntensity": 20.4, "minIntensity": -12.0, "maxIntensity": 190.0,
    "medianIntensity": 102.0, "p5Intensity": 68.0, "p95Intensity": 133.5,
    "bboxMinMm": [-1.5, 2.0, 3.25], "bboxMaxMm": [4.0, 5.0, 6.0], "centroidMm": [1.0, -2.0, 3.0],
    "touchesBorder": True, "surfaceAreaMm2": 61234.57, "triangles": 2454, "vertices": 1229,
    "maxDeviationMm": 1.52, "maxDeviationVoxels": 0.507, "color": {"hex": "#288c28", "rgb": [40, 140, 40]},
}
# a label map meshed without its scan: no intensities, a name a spreadsheet must keep whole
NO_SCAN = {**LIVER, "label": 7, "name": 'kidney, "left"', "touchesBorder": False,
           **{key: None for key in LIVER if key.endswith("Intensity")}}


def test_one_row_per_structure_with_the_reports_numbers():
    header, liver = report_rows({"structures": [LIVER]})
    row = dict(zip(header, liver, strict=True))
    assert header == list(COLUMNS)
    assert row["label"] == "5" and row["volumeMl"] == "1043.118" and row["touchesBorder"] == "true"
    assert row["p5Intensity"] == "68.0" and row["p95Intensity"] == "133.5" and row["maxIntensity"] == "190.0"
    assert [row[f"bboxMin{axis}Mm"] for axis in "XYZ"] == ["-1.5", "2.0", "3.25"]
    assert [row[f"centroid{axis}Mm"] for axis in "XYZ"] == ["1.0", "-2.0", "3.0"]
    assert row["surfaceAreaMm2"] == "61234.57" and row["color"] == "#288c28"


def test_missing_intensities_are_empty_cells_and_text_is_quoted(tmp_path):
    path = tmp_path / "report.csv"
    write_report_csv({"structures": [LIVER, NO_SCAN]}, path)
    raw = path.read_bytes()
    assert raw.endswith(b"\r\n") and raw.count(b"\r\n") == 3 and not raw.startswith(b"\xef\xbb\xbf")
    assert b'"kidney, ""left"""' in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))
    assert [r["name"] for r in rows] == ["liver", 'kidney, "left"']
    assert rows[1]["meanIntensity"] == rows[1]["p95Intensity"] == "" and rows[1]["touchesBorder"] == "false"
    assert rows[1]["volumeMl"] == "1043.118"


def test_an_empty_report_is_a_header():
    assert report_rows({"structures": []}) == [list(COLUMNS)]
