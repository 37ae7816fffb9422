"""What SEG and RTSTRUCT share: the source slices, identifiers, structures and their codes.

Both objects must lie exactly on the source slices and belong to the source's patient, study
and frame of reference. ``prepare`` checks that, fills identifiers the source lacks (with a
warning), and turns the label map into source-ordered slices once for both writers.

Reproducibility: UIDs are derived (pydicom ``generate_uid`` with entropy sources) from the
source SOP Instance UIDs, the label map and the engine, and dates are the source series'
own, so the same input gives byte-identical files like every other result file.
"""

from __future__ import annotations

import hashlib
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.filewriter import correct_ambiguous_vr_element
from pydicom.uid import generate_uid
from scipy import ndimage

from .. import __version__
from ..colors import ALIASES, color_of, snomed_table
from ..segment.base import EngineInfo, Segmentation
from ..volume import NO_DICOM_SOURCE, DicomSource

MANUFACTURER = "IRIS Oculus"
#: Private coding scheme for structures outside TotalSegmentator's SNOMED table ("99" prefix:
#: local schemes per DICOM PS3.16 section 8).
LOCAL_SCHEME = "99OCULUS"
#: Type 2 Patient/Study attributes: present, possibly empty, in every derived object.
PATIENT_STUDY_TYPE2 = ("PatientName", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                       "ReferringPhysicianName", "StudyID", "AccessionNumber")
#: Anatomical Structure, the category of structures without a table row.
ANATOMICAL_STRUCTURE = ("SCT", "123037004", "Anatomical Structure")


class SourceUnsuitable(Exception):
    """The source cannot carry SEG/RTSTRUCT; the message says why, for the report."""


@dataclass(frozen=True)
class Code:
    scheme: str
    value: str
    meaning: str


@dataclass(frozen=True)
class Structure:
    label: int  # value in the label map
    number: int  # 1-based segment / ROI number
    name: str
    color: tuple[int, int, int]  # sRGB 0-255
    category: Code
    type: Code
    type_modifier: Code | None
    anatomic_region: Code | None


@dataclass
class PreparedSource:
    source: DicomSource
    datasets: list[Dataset]  # source headers with generated identifiers filled in
    slices: np.ndarray  # label map as [slice, row, column], stack order
    structures: list[Structure]
    boxes: list  # scipy.ndimage.find_objects of ``slices``: label - 1 -> bounding box or None
    engine: EngineInfo
    uid_seed: str  # entropy for this result's UIDs
    warnings: list[str] = field(default_factory=list)

    @property
    def first(self) -> Dataset:
        return self.datasets[0]

    def uid(self, purpose: str) -> str:
        return generate_uid(entropy_srcs=[self.uid_seed, purpose])

    @property
    def software_version(self) -> str:
        return f"oculus {__version__}; {self.engine.name} {self.engine.version}"

    def date_time(self) -> tuple[str | None, str | None]:
        """The source series' date and time (reruns stay byte-identical; see module docstring)."""
        first = self.first
        for date_tag, time_tag in (("SeriesDate", "SeriesTime"), ("StudyDate", "StudyTime"),
                                   ("ContentDate", "ContentTime")):
            date = str(first.get(date_tag, "") or "").strip()
            if date:
                return date, (str(first.get(time_tag, "") or "").strip() or None)
        return None, None

    def declare_local_scheme(self, ds: Dataset) -> None:
        """Name the private coding scheme in ``ds`` when a structure's code uses it (PS3.3 C.12.1)."""
        if not any(s.type.scheme == LOCAL_SCHEME for s in self.structures):
            return
        item = Dataset()
        item.CodingSchemeDesignator = LOCAL_SCHEME
        item.CodingSchemeName = "IRIS Oculus structure names"
        item.CodingSchemeResponsibleOrganization = MANUFACTURER
        ds.CodingSchemeIdentificationSequence = [item]

    def references(self) -> list[tuple[str, str, int | None]]:
        """(SOP Class UID, SOP Instance UID, frame number or None) of each stack slice."""
        if self.source.frame_numbers is not None:
            ds = self.first
            return [(str(ds.SOPClassUID), str(ds.SOPInstanceUID), n) for n in self.source.frame_numbers]
        return [(str(ds.SOPClassUID), str(ds.SOPInstanceUID), None) for ds in self.datasets]


def prepare(source: DicomSource | None, segmentation: Segmentation) -> PreparedSource:
    """Check the source and share its slices and structures; SourceUnsuitable says why not."""
    if source is None:
        raise SourceUnsuitable(NO_DICOM_SOURCE)
    if source.problems:
        raise SourceUnsuitable("; ".join(source.problems))
    datasets = [_with_sop_identity(ds) for ds in source.datasets]
    _fill_slice_thickness(datasets, source)
    for ds in datasets:
        for tag in ("SOPInstanceUID", "SOPClassUID", "FrameOfReferenceUID"):
            if not str(ds.get(tag, "") or "").strip():
                raise SourceUnsuitable(
                    f"a source image lacks {tag}, so a SEG/RTSTRUCT could not point at it"
                )
    datasets, warnings = _with_identifiers(datasets)
    slices = source.to_stack(segmentation.labels)
    if slices.shape != (source.slice_count, source.rows, source.columns):
        raise SourceUnsuitable(
            f"the label map's grid {segmentation.labels.shape} is not the source slices' grid"
        )
    boxes = ndimage.find_objects(slices)
    structures = _structures([i + 1 for i, box in enumerate(boxes) if box is not None], segmentation.classes)
    digest = hashlib.sha256()
    for ds in datasets:
        digest.update(str(ds.SOPInstanceUID).encode())
    digest.update(slices.tobytes())
    digest.update(f"{segmentation.engine.name} {segmentation.engine.version} {__version__}".encode())
    return PreparedSource(source=source, datasets=datasets, slices=slices, structures=structures, boxes=boxes,
                          engine=segmentation.engine, uid_seed=digest.hexdigest(), warnings=warnings)


def _with_sop_identity(ds: Dataset) -> Dataset:
    """A copy (the Volume's headers stay as read; pydicom's shallow copies share elements) with
    the SOP UIDs from the file meta when the dataset's own are blank, as some anonymisers leave
    them; both name the same instance."""
    copy = deepcopy(ds)
    meta = getattr(copy, "file_meta", None) or Dataset()
    copy.file_meta = meta
    for tag, meta_tag in (("SOPInstanceUID", "MediaStorageSOPInstanceUID"),
                          ("SOPClassUID", "MediaStorageSOPClassUID")):
        if not str(copy.get(tag, "") or "").strip() and str(meta.get(meta_tag, "") or "").strip():
            setattr(copy, tag, str(meta.get(meta_tag)))
    for tag in PATIENT_STUDY_TYPE2:
        if tag not in copy:
            setattr(copy, tag, "")
    return copy


def _fill_slice_thickness(datasets: list[Dataset], source: DicomSource) -> None:
    """Slices without SliceThickness (type 2, often blank) get the slice step, as the SEG's
    pixel measures need one; thickness and step are equal for contiguous CT/MR slices."""
    if len(source.positions) < 2:
        return
    normal = np.cross(source.orientation[:3], source.orientation[3:])
    step = abs(float(np.dot(source.positions[-1] - source.positions[0], normal))) / (len(source.positions) - 1)
    for ds in datasets:
        if source.frame_numbers is None and not str(ds.get("SliceThickness", "") or "").strip():
            ds.SliceThickness = f"{step:.6g}"


def _with_identifiers(datasets: list[Dataset]) -> tuple[list[Dataset], list[str]]:
    """The headers with PatientID / Study / Series UIDs generated where missing."""
    seed = "".join(str(ds.SOPInstanceUID) for ds in datasets)
    generated = {
        "PatientID": "OCULUS-" + hashlib.sha256(seed.encode()).hexdigest()[:16].upper(),
        "StudyInstanceUID": generate_uid(entropy_srcs=[seed, "study"]),
        "SeriesInstanceUID": generate_uid(entropy_srcs=[seed, "series"]),
    }
    missing = [tag for tag in generated if not all(str(ds.get(tag, "") or "").strip() for ds in datasets)]
    if not missing:
        return datasets, []
    for ds in datasets:
        for tag in missing:
            setattr(ds, tag, generated[tag])
    warning = (
        f"The DICOM series has no {', '.join(missing)}: seg.dcm and rtstruct.dcm carry generated "
        f"identifiers ({', '.join(f'{t} {generated[t]}' for t in missing)}), so a PACS will not "
        "file them under the original patient/study; set the right identifiers before importing."
    )
    return datasets, [warning]


def _structures(present: list[int], classes: dict[int, str]) -> list[Structure]:
    structures = []
    for number, label in enumerate(present, start=1):
        name = classes.get(label, f"label_{label}")
        category, type_, modifier, region = _codes(name)
        structures.append(Structure(label=label, number=number, name=name, color=color_of(name),
                                    category=category, type=type_, type_modifier=modifier,
                                    anatomic_region=region))
    return structures


def _codes(name: str) -> tuple[Code, Code, Code | None, Code | None]:
    """Category, type, type modifier and anatomic region from TotalSegmentator's SNOMED table."""
    table = snomed_table()
    row = table.get(name) or table.get(ALIASES.get(name, ""))
    if row is None:
        local = hashlib.sha256(name.encode()).hexdigest()[:12].upper()  # CodeValue is at most 16 chars
        return Code(*ANATOMICAL_STRUCTURE), Code(LOCAL_SCHEME, local, name), None, None

    def code(prefix: str) -> Code | None:
        scheme = row.get(f"{prefix}.CodingSchemeDesignator", "").strip()
        value = row.get(f"{prefix}.CodeValue", "").strip()
        if not scheme or not value:
            return None
        return Code(scheme, value, row.get(f"{prefix}.CodeMeaning", "").strip())

    return (code("SegmentedPropertyCategoryCodeSequence"), code("SegmentedPropertyTypeCodeSequence"),
            code("SegmentedPropertyTypeModifierCodeSequence"), code("AnatomicRegionSequence"))


def save(ds: Dataset, path: Path) -> None:
    """Save as Explicit VR Little Endian, marking the datasets built here as already in it.

    Unmarked, pydicom's writer re-checks every element of every sequence item for ambiguous
    VRs and re-parses raw elements: most of the time on a structure set or SEG with thousands
    of items. Datasets read from a source file keep their own encoding and are converted.
    """
    _mark_new(ds)
    ds.save_as(path, enforce_file_format=True)


def _mark_new(ds: Dataset) -> None:
    if ds.original_encoding == (None, None):
        for element in list(ds.values()):
            if " or " in (element.VR or ""):  # e.g. Pixel Data "OB or OW": settled per element
                correct_ambiguous_vr_element(element, ds, True)
        ds.set_original_encoding(False, True, ds._character_set)
    for element in ds.values():
        if getattr(element, "VR", None) == "SQ" and not element.is_raw:
            for item in element.value:
                _mark_new(item)
