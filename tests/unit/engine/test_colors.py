"""Colours and systems come from TotalSegmentator's own SNOMED table, not a hand-made list."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from oculus.colors import class_names, color_of, hash_color, hex_color, snomed_table, srgb_to_linear, system_of


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


def test_srgb_to_linear_matches_the_standard_curve():
    assert srgb_to_linear((0, 255, 128)) == pytest.approx((0.0, 1.0, 0.2158605), abs=1e-6)
    assert hex_color((241, 172, 34)) == "#f1ac22"
