"""Colours and systems come from TotalSegmentator's own SNOMED table, not a hand-made list."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from oculus.colors import (
    class_names,
    color_of,
    hash_color,
    hex_color,
    snomed_table,
    srgb_to_linear,
    system_of,
)


def _csv_rows():
    path = resources.files("totalsegmentator") / "resources" / "totalsegmentator_snomed_mapping.csv"
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_table_row_gives_its_own_rgb():
    rows = _csv_rows()
    assert len(rows) > 100
    for row in rows:
        assert color_of(row["Structure"]) == tuple(int(v) for v in row["DicomRGBColor"].split(","))


def test_total_task_names_come_from_the_class_map_and_all_have_table_colours():
    from totalsegmentator.map_to_binary import class_map

    names = class_names("total")
    assert names == {int(k): v for k, v in class_map["total"].items()}
    assert all(name in snomed_table() for name in names.values())


def test_unknown_task_is_a_typed_error():
    from oculus.errors import InputError

    with pytest.raises(InputError) as error:
        class_names("no_such_task")
    assert error.value.code == "unknown_task"


def test_threshold_engine_names_reuse_the_matching_table_entry():
    table = snomed_table()
    assert "body" not in table and "lung_left" not in table
    assert color_of("body") == (177, 122, 101)  # 3D Slicer's skin: a body surface reads as skin
    assert system_of("body") == system_of("body_trunc")
    assert color_of("lung_left") == color_of("lung_upper_lobe_left")
    assert color_of("airways") == color_of("lung_trachea_bronchia")
    assert system_of("skeleton") == "bones"


def test_threshold_left_and_right_lungs_are_told_apart():
    from oculus.colors import MIN_PAIR_DELTA_E, RIGHT_SHADE, delta_e

    left, right = color_of("lung_left"), color_of("lung_right")
    # the borrowed upper-lobe colours are nearly the same; the right lung is shaded apart
    assert delta_e(color_of("lung_upper_lobe_left"), color_of("lung_upper_lobe_right")) < MIN_PAIR_DELTA_E
    assert left == color_of("lung_upper_lobe_left")
    assert right == tuple(round(c * RIGHT_SHADE) for c in left)
    assert delta_e(left, right) >= MIN_PAIR_DELTA_E


def test_pair_rule_leaves_table_rows_and_distinct_pairs_alone():
    from oculus.colors import delta_e

    assert color_of("lung_upper_lobe_right") == (100, 218, 227)  # the table's own row
    assert color_of("femur_right") == (46, 184, 60)
    assert delta_e((10, 20, 30), (10, 20, 30)) == 0.0
    # hashed names: a right side outside the table keeps its own colour when already distinct
    for side in ("widget_right", "widget_right_2"):
        left = side.replace("right", "left")
        assert delta_e(color_of(side), color_of(left)) >= 12.0


def test_names_outside_the_table_get_a_stable_distinct_colour():
    assert color_of("label_300") == hash_color("label_300") == color_of("label_300")
    assert color_of("label_300") != color_of("label_301")
    assert system_of("label_300") == "other"


@pytest.mark.parametrize(
    "name, system",
    [("liver", "digestive"), ("vertebrae_L1", "bones"), ("rib_left_3", "bones"), ("aorta", "vessels"),
     ("iliopsoas_left", "muscles"), ("heart_myocardium", "heart"), ("lung_upper_lobe_left", "lungs_airways"),
     ("kidney_left", "urinary"), ("subcutaneous_fat", "tissues"), ("liver_tumor", "findings"),
     ("hip_implant", "implants"), ("brain", "nervous")],
)
def test_system_groups_follow_the_snomed_codes(name, system):
    assert system_of(name) == system


def test_every_table_structure_has_a_system():
    assert all(system_of(name) != "other" for name in snomed_table())


@pytest.mark.parametrize(
    # Values from the published IEC 61966-2-1 decoding table: 10 is still on the linear
    # segment (10/255/12.92), 11 already on the power curve, 188 is about half the light.
    ("value", "linear"),
    [(0, 0.0), (10, 0.0030353), (11, 0.0033465), (128, 0.2158605), (188, 0.5028865), (255, 1.0)],
)
def test_srgb_to_linear_matches_the_standard_table(value, linear):
    assert srgb_to_linear((value, 0, 255)) == pytest.approx((linear, 0.0, 1.0), abs=1e-7)
    assert srgb_to_linear((255, value, 0)) == pytest.approx((1.0, linear, 0.0), abs=1e-7)


def test_hex_color():
    assert hex_color((241, 172, 34)) == "#f1ac22"
