"""rtstruct.dcm: an RT Structure Set, one ROI per structure, planar contours on the source slices.

Built with pydicom (highdicom writes no RTSTRUCT; rt-utils needs OpenCV and predates pydicom
3). Contours: ``skimage.measure.find_contours`` at level 0.5 on each structure's mask on each
source slice, in pixel coordinates, then into patient coordinates (LPS mm) through the slice's
ImagePositionPatient, ImageOrientationPatient and PixelSpacing. A structure with holes gets
the hole outlines as further CLOSED_PLANAR contours on the same slice, inside the outer one:
read with the even-odd rule (as radiotherapy planning systems do) they cut the holes out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian
from skimage.measure import find_contours

from .. import __version__
from .source import MANUFACTURER, PATIENT_STUDY_TYPE2, PreparedSource, Structure, save

RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
#: Study Component Management SOP Class, the conventional class of an RTReferencedStudySequence item.
STUDY_COMPONENT_MANAGEMENT = "1.2.840.10008.3.1.2.3.2"
CONTOUR_DATA = Tag(0x3006, 0x0050)


def write_rtstruct(prepared: PreparedSource, path: Path) -> None:
    ds = _header(prepared)
    references = prepared.references()
    image_refs = [_image_reference(*ref) for ref in references]
    frame_of_reference = str(prepared.first.FrameOfReferenceUID)

    series = Dataset()
    series.SeriesInstanceUID = str(prepared.first.SeriesInstanceUID)
    series.ContourImageSequence = Sequence(image_refs)
    study = Dataset()
    study.ReferencedSOPClassUID = STUDY_COMPONENT_MANAGEMENT
    study.ReferencedSOPInstanceUID = str(prepared.first.StudyInstanceUID)
    study.RTReferencedSeriesSequence = Sequence([series])
    referenced_frame = Dataset()
    referenced_frame.FrameOfReferenceUID = frame_of_reference
    referenced_frame.RTReferencedStudySequence = Sequence([study])
    ds.ReferencedFrameOfReferenceSequence = Sequence([referenced_frame])

    rois, contours, observations = [], [], []
    for structure in prepared.structures:
        rois.append(_roi(structure, frame_of_reference, prepared))
        contours.append(_roi_contours(structure, prepared, prepared.boxes[structure.label - 1], image_refs))
        observations.append(_observation(structure))
    ds.StructureSetROISequence = Sequence(rois)
    ds.ROIContourSequence = Sequence(contours)
    ds.RTROIObservationsSequence = Sequence(observations)
    ds.ApprovalStatus = "UNAPPROVED"
    prepared.declare_local_scheme(ds)
    save(ds, path)


def _header(prepared: PreparedSource) -> Dataset:
    first = prepared.first
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RT_STRUCTURE_SET_STORAGE
    meta.MediaStorageSOPInstanceUID = prepared.uid("rtstruct-instance")
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = first.get("SpecificCharacterSet", "ISO_IR 192") or "ISO_IR 192"
    ds.SOPClassUID = RT_STRUCTURE_SET_STORAGE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    date, time = prepared.date_time()
    for tag in PATIENT_STUDY_TYPE2 + ("PatientID", "StudyInstanceUID"):
        setattr(ds, tag, first.get(tag, "") or "")
    ds.FrameOfReferenceUID = str(first.FrameOfReferenceUID)
    ds.PositionReferenceIndicator = first.get("PositionReferenceIndicator", "") or ""
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = prepared.uid("rtstruct-series")
    ds.SeriesNumber = _series_number(first, 901)
    ds.SeriesDescription = f"Structures ({prepared.engine.name})"[:64]
    ds.OperatorsName = ""
    ds.Manufacturer = MANUFACTURER
    ds.ManufacturerModelName = "oculus"
    ds.SoftwareVersions = [f"oculus {__version__}", f"{prepared.engine.name} {prepared.engine.version}"]
    ds.InstanceNumber = 1
    ds.StructureSetLabel = "OCULUS"
    ds.StructureSetName = f"{prepared.engine.name} {prepared.engine.version}"[:64]
    ds.StructureSetDate = date or ""
    ds.StructureSetTime = time or ""
    if date:  # the source's date, not the clock: reruns stay byte-identical
        ds.InstanceCreationDate = date
        if time:
            ds.InstanceCreationTime = time
    return ds


def _series_number(first: Dataset, offset: int) -> int:
    try:
        return int(first.get("SeriesNumber", 0) or 0) + offset
    except (TypeError, ValueError):
        return offset


def _image_reference(sop_class: str, sop_instance: str, frame: int | None) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = sop_class
    item.ReferencedSOPInstanceUID = sop_instance
    if frame is not None:
        item.ReferencedFrameNumber = frame
    return item


def _roi(structure: Structure, frame_of_reference: str, prepared: PreparedSource) -> Dataset:
    item = Dataset()
    item.ROINumber = structure.number
    item.ReferencedFrameOfReferenceUID = frame_of_reference
    item.ROIName = structure.name[:64]
    item.ROIGenerationAlgorithm = "AUTOMATIC"
    item.ROIGenerationDescription = f"{prepared.engine.name} {prepared.engine.version}"[:64]
    return item


def _observation(structure: Structure) -> Dataset:
    item = Dataset()
    item.ObservationNumber = structure.number
    item.ReferencedROINumber = structure.number
    item.ROIObservationLabel = structure.name[:16]
    item.RTROIInterpretedType = "ORGAN"
    item.ROIInterpreter = ""
    code = Dataset()
    code.CodeValue = structure.type.value
    code.CodingSchemeDesignator = structure.type.scheme
    code.CodeMeaning = structure.type.meaning[:64]
    item.RTROIIdentificationCodeSequence = Sequence([code])
    return item


def _roi_contours(structure: Structure, prepared: PreparedSource, box, image_refs) -> Dataset:
    item = Dataset()
    item.ROIDisplayColor = list(structure.color)
    item.ReferencedROINumber = structure.number
    contours = []
    if box is not None:
        for k in range(box[0].start, box[0].stop):
            mask = prepared.slices[k, box[1], box[2]] == structure.label
            if not mask.any():
                continue
            for points in slice_contours(mask, prepared, k, offset=(box[1].start, box[2].start)):
                contour = Dataset()
                contour.ContourImageSequence = Sequence([image_refs[k]])
                contour.ContourGeometricType = "CLOSED_PLANAR"
                contour.NumberOfContourPoints = len(points)
                contour.ContourNumber = len(contours) + 1
                contour[CONTOUR_DATA] = _decimal_strings(CONTOUR_DATA, points.ravel())  # see save()
                contours.append(contour)
    item.ContourSequence = Sequence(contours)
    return item


def slice_contours(mask: np.ndarray, prepared: PreparedSource, k: int, offset=(0, 0)) -> list[np.ndarray]:
    """Closed outlines of a 2D mask as (points, 3) arrays in patient coordinates (LPS mm)."""
    padded = np.pad(mask, 1).astype(np.uint8)
    source = prepared.source
    origin = source.positions[k]
    row_cosine, col_cosine = source.orientation[:3], source.orientation[3:]
    row_spacing, col_spacing = source.pixel_spacing
    outlines = []
    for contour in find_contours(padded, 0.5):
        contour = _corners(contour[:-1])  # find_contours closes the ring: last == first
        if len(contour) < 3:
            continue
        rows = contour[:, 0] - 1 + offset[0]
        cols = contour[:, 1] - 1 + offset[1]
        points = origin + np.outer(cols * col_spacing, row_cosine) + np.outer(rows * row_spacing, col_cosine)
        outlines.append(points)
    return outlines


def _corners(ring: np.ndarray) -> np.ndarray:
    """The ring without points inside straight runs (same step before and after: exact, lossless)."""
    steps = np.diff(ring, axis=0, append=ring[:1])
    turns = np.any(np.abs(steps - np.roll(steps, 1, axis=0)) > 1e-9, axis=1)
    return ring[turns]


def _decimal_strings(tag, values: np.ndarray) -> RawDataElement:
    """A DS element written as is: pydicom's per-value DS objects cost seconds on big structure sets."""
    text = ("%.3f\\" * len(values) % tuple(values.tolist()))[:-1].encode("ascii")
    if len(text) % 2:
        text += b" "
    return RawDataElement(tag, "DS", len(text), text, 0, False, True)
