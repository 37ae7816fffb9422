"""seg.dcm: a binary DICOM Segmentation, one segment per structure, built with highdicom.

Each frame is one segment on one source slice, referenced per frame (Derivation Image /
Source Image Sequence) and as a series (Referenced Series Sequence); empty frames are left
out. Segment label = our structure name; category, type (and laterality modifier, anatomic
region) from TotalSegmentator's SNOMED table; recommended display colour = our colour;
algorithm = engine name and version.
"""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom.sr.codedict import codes

from .source import MANUFACTURER, Code, PreparedSource, Structure, save


def write_seg(prepared: PreparedSource, path: Path) -> None:
    date, time = prepared.date_time()
    dated = {"content_date": date, "content_time": time} if date else {}
    segmentation = hd.seg.Segmentation(
        source_images=prepared.datasets,
        pixel_array=_label_frames(prepared),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[_description(s, prepared) for s in prepared.structures],
        series_instance_uid=prepared.uid("seg-series"),
        series_number=_series_number(prepared, 900),
        sop_instance_uid=prepared.uid("seg-instance"),
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name="oculus",
        software_versions=prepared.software_version,
        device_serial_number="none",
        series_description=f"Segmentation ({prepared.engine.name})"[:64],
        content_label="SEGMENTATION",
        content_description=f"{prepared.engine.name} {prepared.engine.version}"[:64],
        omit_empty_frames=True,
        **dated,
    )
    _reproducible(segmentation, prepared, date, time)
    prepared.declare_local_scheme(segmentation)
    save(segmentation, path)


def _reproducible(segmentation: hd.seg.Segmentation, prepared: PreparedSource, date, time) -> None:
    """Replace what highdicom takes from the clock and the random generator (byte-identical reruns)."""
    dimensions = prepared.uid("seg-dimensions")
    for item in (*segmentation.DimensionOrganizationSequence, *segmentation.DimensionIndexSequence):
        item.DimensionOrganizationUID = dimensions
    if not date:
        return
    segmentation.InstanceCreationDate = date
    if time:
        segmentation.InstanceCreationTime = time
    for item in segmentation.get("ContributingEquipmentSequence", []):
        if "ContributionDateTime" in item:
            item.ContributionDateTime = date + (time or "")


def _label_frames(prepared: PreparedSource) -> np.ndarray:
    """Segment numbers per source frame, [frame, row, column] in the order highdicom expects."""
    lookup = np.zeros(int(prepared.slices.max()) + 1, dtype=np.uint16)
    for structure in prepared.structures:
        lookup[structure.label] = structure.number
    dtype = np.uint8 if len(prepared.structures) < 256 else np.uint16
    frames = lookup[prepared.slices].astype(dtype, copy=False)
    numbers = prepared.source.frame_numbers
    if numbers is None:
        return frames
    # one multi-frame source: a frame per source frame (repeats the loader dropped stay empty)
    total = int(prepared.first.get("NumberOfFrames", max(numbers)))
    full = np.zeros((total, *frames.shape[1:]), dtype=dtype)
    full[np.asarray(numbers) - 1] = frames
    return full


def _description(structure: Structure, prepared: PreparedSource) -> hd.seg.SegmentDescription:
    engine = prepared.engine
    family = codes.cid7162.ArtificialIntelligence if engine.name == "totalsegmentator" \
        else codes.cid7162.HistogramAnalysis
    description = hd.seg.SegmentDescription(
        segment_number=structure.number,
        segment_label=structure.name[:64],
        segmented_property_category=_concept(structure.category),
        segmented_property_type=_concept(structure.type),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=hd.AlgorithmIdentificationSequence(
            name=engine.name, family=family, version=engine.version,
        ),
        anatomic_regions=[_concept(structure.anatomic_region)] if structure.anatomic_region else None,
        display_color=hd.color.CIELabColor.from_rgb(*structure.color),
    )
    if structure.type_modifier is not None:
        description.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence = [
            _concept(structure.type_modifier)
        ]
    return description


def _concept(code: Code) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(value=code.value, scheme_designator=code.scheme, meaning=code.meaning)


def _series_number(prepared: PreparedSource, offset: int) -> int:
    """A series number near the source's, so a viewer lists the result beside it."""
    try:
        return int(prepared.first.get("SeriesNumber", 0) or 0) + offset
    except (TypeError, ValueError):
        return offset
