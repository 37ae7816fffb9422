"""Structure colours and body-system groups from TotalSegmentator's own SNOMED table.

Source: ``totalsegmentator/resources/totalsegmentator_snomed_mapping.csv`` in the installed
package (column ``DicomRGBColor``, sRGB 0-255, the table 3D Slicer also uses for
TotalSegmentator segments). Nothing here is a hand-copied colour list.

Names the table lacks get a colour by two documented rules, in order:

1. ``ALIASES``: a few structures made by this project's threshold engine that are the same
   anatomy as a table entry take that entry's colour and system (``body`` -> ``body_trunc``,
   ``lung_left`` -> ``lung_upper_lobe_left``, ...).
2. Anything else: a stable colour from the SHA-256 of the name (hue from the first two bytes,
   fixed saturation 0.55 and value 0.85), system ``"other"``. Same name, same colour, always.

Left/right pairs outside the table (the threshold engine's ``lung_left`` / ``lung_right``
borrow the upper lobes' colours, which differ by only CIE76 Delta E 8) must be told apart in
3D: when a ``..._right`` name outside the table would get a colour closer than
``MIN_PAIR_DELTA_E`` to its ``..._left`` counterpart, it takes the left colour times
``RIGHT_SHADE`` per channel, the darker-right-side convention most of the table's own pairs
follow (kidney, adrenal gland, iliac artery: right = left x 0.74). Table rows are never changed.

``system_of`` groups structures for the web app's list. It is derived from the table's
SNOMED codes: the segmented-property *category* (Tissue, Morphologically Altered Structure,
Physical object) decides first; for anatomical structures the SNOMED *type meaning* is matched
against ``SYSTEM_RULES`` (words such as "vertebra", "rib", "muscle", "artery", "vein").
"""

from __future__ import annotations

import colorsys
import csv
import hashlib
from functools import lru_cache
from importlib import resources

#: Threshold-engine (and other) names that are the same anatomy as a SNOMED table entry.
ALIASES: dict[str, str] = {
    "body": "body_trunc",
    "skeleton": "skull",  # the table's generic bone colour (cortical bone white-beige)
    "bones": "skull",
    "lung_left": "lung_upper_lobe_left",
    "lung_right": "lung_upper_lobe_right",
    "lungs": "lung_upper_lobe_right",
    "airways": "lung_trachea_bronchia",
}

#: System groups, in the order the web app lists them.
SYSTEMS = (
    "bones", "muscles", "heart", "vessels", "lungs_airways", "digestive", "urinary",
    "endocrine", "nervous", "reproductive", "body", "tissues", "findings", "implants", "other",
)

#: (words in the SNOMED type meaning, lower case) -> system; first match wins.
SYSTEM_RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("vertebra", "rib", "sacrum", "femur", "humerus", "scapula", "clavicle", "hip", "sternum",
      "skull", "patella", "tibia", "fibula", "tarsal", "metatarsal", "phalanx", "ulna", "radius",
      "carpus", "metacarpal", "costal cartilage", "bone"), "bones"),
    (("muscle",), "muscles"),
    (("heart", "atrium", "ventricle", "myocardium", "auricular appendage"), "heart"),
    (("artery", "vein", "aorta", "vena cava", "blood vessel"), "vessels"),
    (("lung", "trachea", "bronch", "pleura"), "lungs_airways"),
    (("esophagus", "stomach", "duodenum", "intestine", "colon", "liver", "gallbladder",
      "pancreas", "spleen"), "digestive"),
    (("kidney", "urinary bladder"), "urinary"),
    (("adrenal", "thyroid"), "endocrine"),
    (("brain", "spinal cord"), "nervous"),
    (("prostate",), "reproductive"),
    (("trunk", "limb", "face"), "body"),
)

_CATEGORY_SYSTEMS = {
    "tissue": "tissues",
    "morphologically altered structure": "findings",
    "physical object": "implants",
}


@lru_cache(maxsize=1)
def snomed_table() -> dict[str, dict[str, str]]:
    """Structure name -> its row of TotalSegmentator's SNOMED mapping."""
    path = resources.files("totalsegmentator") / "resources" / "totalsegmentator_snomed_mapping.csv"
    with path.open(newline="") as handle:
        return {row["Structure"]: row for row in csv.DictReader(handle)}


def class_names(task: str = "total") -> dict[int, str]:
    """Label id -> structure name for a TotalSegmentator task, from its own class map."""
    from totalsegmentator.map_to_binary import class_map

    if task not in class_map:
        from .errors import InputError

        raise InputError(
            f"unknown TotalSegmentator task {task!r}; known tasks: {', '.join(sorted(class_map))}",
            code="unknown_task",
        )
    return {int(k): str(v) for k, v in class_map[task].items()}


def _table_row(name: str) -> dict[str, str] | None:
    table = snomed_table()
    return table.get(name) or table.get(ALIASES.get(name, ""))


#: The whole-body surface is shown as skin, in 3D Slicer's GenericAnatomyColors "skin"
#: (177, 122, 101); the SNOMED table's "Trunk" magenta reads as an organ, not as a body.
SLICER_COLORS: dict[str, tuple[int, int, int]] = {"body": (177, 122, 101)}


#: Below this CIE76 colour difference a left/right pair reads as one colour.
MIN_PAIR_DELTA_E = 12.0
#: The right side's shade of the left colour, as in most of the SNOMED table's own pairs.
RIGHT_SHADE = 0.74


def color_of(name: str) -> tuple[int, int, int]:
    """sRGB 0-255 colour of a structure (Slicer skin, table, alias, then stable hash colour),
    with a right side outside the table shaded apart from its left counterpart."""
    rgb = _base_color(name)
    left = _left_counterpart(name)
    if left is None or name in snomed_table():
        return rgb
    left_rgb = _base_color(left)
    if delta_e(rgb, left_rgb) >= MIN_PAIR_DELTA_E:
        return rgb
    r, g, b = (round(channel * RIGHT_SHADE) for channel in left_rgb)
    return (r, g, b)


def _left_counterpart(name: str) -> str | None:
    """``lung_right`` -> ``lung_left`` (``rib_right_3`` -> ``rib_left_3``); None without a right token."""
    tokens = name.split("_")
    if "right" not in tokens:
        return None
    return "_".join("left" if token == "right" else token for token in tokens)


def delta_e(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """CIE76 difference of two sRGB colours (Euclidean distance in CIELAB, D65 white)."""
    la, lb = _lab(a), _lab(b)
    return sum((x - y) ** 2 for x, y in zip(la, lb, strict=True)) ** 0.5


def _lab(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    r, g, b = srgb_to_linear(rgb)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return (116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z)))


def _base_color(name: str) -> tuple[int, int, int]:
    if name in SLICER_COLORS:
        return SLICER_COLORS[name]
    row = _table_row(name)
    if row is not None and row.get("DicomRGBColor"):
        r, g, b = (int(v) for v in row["DicomRGBColor"].split(","))
        return (r, g, b)
    return hash_color(name)


def hash_color(name: str) -> tuple[int, int, int]:
    """Deterministic colour for names outside the table (documented in the module docstring)."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    hue = int.from_bytes(digest[:2], "big") / 65536.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.55, 0.85)
    return (round(r * 255), round(g * 255), round(b * 255))


def system_of(name: str) -> str:
    """Body-system group of a structure, from the SNOMED category and type meaning."""
    row = _table_row(name)
    if row is None:
        return "other"
    category = row["SegmentedPropertyCategoryCodeSequence.CodeMeaning"].strip().lower()
    if category in _CATEGORY_SYSTEMS:
        return _CATEGORY_SYSTEMS[category]
    meaning = row["SegmentedPropertyTypeCodeSequence.CodeMeaning"].strip().lower()
    for words, system in SYSTEM_RULES:
        if any(word in meaning for word in words):
            return system
    return "other"


def hex_color(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def srgb_to_linear(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    """sRGB 0-255 -> linear 0-1 (IEC 61966-2-1), as glTF baseColorFactor expects."""

    def channel(value: int) -> float:
        c = value / 255.0
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return (channel(rgb[0]), channel(rgb[1]), channel(rgb[2]))
