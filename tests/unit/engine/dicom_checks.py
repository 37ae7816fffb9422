"""Synthetic DICOM series and independent read-back of seg.dcm and rtstruct.dcm, for tests.

Each synthetic file's pixels are ``label * 100`` HU, so the label map on the engine's grid is
``volume.data // 100`` whatever order or orientation the loader chose, and the truth for every
source file is its own pixels. Nothing here uses the writers' code: the SEG is read with
highdicom by source instance, and RTSTRUCT contours are filled with ``skimage.draw.polygon``
(even-odd rule for holes) on the source slice they name, through that slice's own
ImagePositionPatient/Orientation/Spacing.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, EnhancedCTImageStorage, ExplicitVRLittleEndian, generate_uid
from skimage.draw import polygon

from oculus.segment.base import EngineInfo, Segmentation
from oculus.volume import Volume


def seg_labels_by_instance(seg_path: Path, sop_uids: list[str], name_to_label: dict[str, int]) -> np.ndarray:
    """The SEG as our label values, [instance, row, column] for the given source instances."""
    seg = hd.seg.segread(seg_path)
    numbers = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=sop_uids, combine_segments=True, relabel=False, dtype=np.uint16,
    )
    lookup = np.zeros(max(seg.segment_numbers) + 1, dtype=np.uint16)
    for number in seg.segment_numbers:
        lookup[number] = name_to_label[seg.get_segment_description(number).segment_label]
    return lookup[numbers]


def rtstruct_masks(rt_path: Path, slices: dict[str, pydicom.Dataset]) -> dict[str, dict[str, np.ndarray]]:
    """ROI name -> {source SOP Instance UID -> filled mask}; ``slices``: the source headers by UID."""
    rt = pydicom.dcmread(rt_path)
    names = {roi.ROINumber: roi.ROIName for roi in rt.StructureSetROISequence}
    out: dict[str, dict[str, np.ndarray]] = {}
    for roi in rt.ROIContourSequence:
        masks = out.setdefault(names[roi.ReferencedROINumber], {})
        for contour in roi.get("ContourSequence", []):
            assert contour.ContourGeometricType == "CLOSED_PLANAR"
            uid = contour.ContourImageSequence[0].ReferencedSOPInstanceUID
            ds = slices[uid]
            points = np.array(contour.ContourData, dtype=float).reshape(-1, 3)
            assert len(points) == contour.NumberOfContourPoints
            rows, cols = _to_pixels(points, ds)
            rr, cc = polygon(rows, cols, shape=(ds.Rows, ds.Columns))
            mask = masks.setdefault(uid, np.zeros((ds.Rows, ds.Columns), dtype=bool))
            hit = np.zeros_like(mask)
            hit[rr, cc] = True
            mask ^= hit  # even-odd: a contour inside another cuts a hole
    return out


def _to_pixels(points: np.ndarray, ds) -> tuple[np.ndarray, np.ndarray]:
    iop = np.array(ds.ImageOrientationPatient, dtype=float)
    origin = np.array(ds.ImagePositionPatient, dtype=float)
    row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)
    offsets = points - origin
    normal = np.cross(iop[:3], iop[3:])
    assert np.all(np.abs(offsets @ normal) < 1e-2), "a contour leaves the plane of its slice"
    return offsets @ iop[3:] / row_spacing, offsets @ iop[:3] / col_spacing


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def dciodvfy(path: Path) -> tuple[list[str], list[str]]:
    """(errors, warnings) that dicom3tools' validator prints for a file."""
    tool = shutil.which("dciodvfy")
    if tool is None:
        pytest.skip("dciodvfy (Debian package dicom3tools) is not installed; scripts/setup.sh installs it")
    run = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=120)
    lines = (run.stdout + run.stderr).splitlines()
    return [line for line in lines if line.startswith("Error")], [line for line in lines if line.startswith("Warning")]


# --- synthetic series -----------------------------------------------------------------------------

CLASSES = {1: "liver", 2: "spleen", 3: "kidney_left", 4: "made_up_structure"}
LABEL_OF = {name: label for label, name in CLASSES.items()}
ENGINE = EngineInfo("totalsegmentator", "2.18.0", "total")
ROWS, COLS, SLICES = 32, 32, 8
AXIAL = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0))


def truth_labels() -> np.ndarray:
    """[slice, row, column] labels: a ring (hole inside), a box, a blob, a structure on 2 slices."""
    rr, cc = np.mgrid[:ROWS, :COLS]
    out = np.zeros((SLICES, ROWS, COLS), dtype=np.int16)
    for k in range(SLICES):
        radius = 6 + k % 3
        dist = np.hypot(rr - 12, cc - 11)
        out[k][(dist <= radius) & (dist > 2.5)] = 1
        out[k, 22:29, 3 + k:12 + k] = 2
        if k >= 2:
            out[k][np.hypot(rr - 24, cc - 24) <= 3] = 3
    out[3:5, 2:5, 25:30] = 4
    return out


def _cosines(orientation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    row, col = (np.asarray(v, float) / np.linalg.norm(v) for v in orientation)
    return row, col, np.cross(row, col)


def write_series(folder: Path, *, orientation=AXIAL, step=2.5, shuffle=False, ids=True,
                 frame_of_reference=None, extra_tilted_slice=False, skip_slice=None) -> list[Dataset]:
    """A CT series of single-frame files; returns the datasets in true slice order."""
    folder.mkdir(parents=True)
    truth = truth_labels()
    row, col, normal = _cosines(orientation)
    study, series, for_uid = generate_uid(), generate_uid(), generate_uid()
    datasets = []
    for k in range(SLICES + extra_tilted_slice):
        ds = _image(CTImageStorage)
        if ids:
            ds.PatientID, ds.StudyInstanceUID, ds.SeriesInstanceUID = "P-1", study, series
        else:
            ds.PatientID, ds.StudyInstanceUID, ds.SeriesInstanceUID = "", "", ""
        ds.FrameOfReferenceUID = frame_of_reference(k) if frame_of_reference else for_uid
        ds.InstanceNumber = k + 1
        orient = np.concatenate([row, col])
        if k == SLICES:  # the extra slice, in another plane
            tilted = np.array([np.cos(0.3), 0.0, np.sin(0.3)])
            orient = np.concatenate([tilted, col])
        ds.ImageOrientationPatient = [f"{v:.6f}" for v in orient]
        ds.ImagePositionPatient = [f"{v:.4f}" for v in np.array([-20.0, 15.0, 40.0]) + k * step * normal]
        ds.PixelData = (truth[min(k, SLICES - 1)] * 100).astype(np.int16).tobytes()
        ds.add_new(0x00290010, "LO", "SIEMENS CSA HEADER")  # a large private blob, as scanners write
        ds.add_new(0x00291010, "OB", bytes(10000))
        datasets.append(ds)
    order = list(range(len(datasets)))
    if shuffle:
        random.Random(7).shuffle(order)
    for n, k in enumerate(order):  # file names in shuffled order: the loader must sort by position
        if k == skip_slice:
            continue
        datasets[k].save_as(folder / f"IM{n:04d}.dcm", enforce_file_format=True)
    return datasets


def write_enhanced(path: Path, *, frame_order, tilt_frame=None) -> Dataset:
    """One Enhanced CT file whose frames are stored in ``frame_order`` (slice indices)."""
    truth = truth_labels()
    row, col, normal = _cosines(AXIAL)
    ds = _image(EnhancedCTImageStorage)
    ds.PatientID, ds.StudyInstanceUID, ds.SeriesInstanceUID = "P-2", generate_uid(), generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    del ds.ImageOrientationPatient, ds.PixelSpacing, ds.RescaleSlope, ds.RescaleIntercept
    ds.NumberOfFrames = len(frame_order)
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = ["0.8", "0.7"]
    measures.SliceThickness = "2.5"
    shared.PixelMeasuresSequence = Sequence([measures])
    transform = Dataset()
    transform.RescaleSlope, transform.RescaleIntercept, transform.RescaleType = "1", "0", "HU"
    shared.PixelValueTransformationSequence = Sequence([transform])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    if tilt_frame is None:
        shared.PlaneOrientationSequence = Sequence([_orientation_item(row, col)])
    frames = []
    for n, k in enumerate(frame_order):
        item = Dataset()
        plane = Dataset()
        plane.ImagePositionPatient = [f"{v:.4f}" for v in np.array([-20.0, 15.0, 40.0]) + k * 2.5 * normal]
        item.PlanePositionSequence = Sequence([plane])
        if tilt_frame is not None:  # per-frame orientations, one of them tilted
            tilted = np.array([np.cos(0.3), 0.0, np.sin(0.3)])
            item.PlaneOrientationSequence = Sequence([_orientation_item(tilted if tilt_frame == n else row, col)])
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.PixelData = np.stack([truth[k] * 100 for k in frame_order]).astype(np.int16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return ds


def _orientation_item(row, col) -> Dataset:
    item = Dataset()
    item.ImageOrientationPatient = [f"{v:.6f}" for v in np.concatenate([row, col])]
    return item


def _image(sop_class) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientName, ds.StudyDate, ds.StudyTime = "CT", "Test^Synthetic", "20240102", "101500"
    ds.SeriesDate, ds.SeriesTime, ds.SeriesNumber = "20240102", "101600", 3
    ds.Rows, ds.Columns = ROWS, COLS
    ds.PixelSpacing = ["0.8", "0.7"]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleSlope, ds.RescaleIntercept = "1", "0"
    return ds


def segment(volume: Volume) -> Segmentation:
    return Segmentation(labels=(volume.data // 100).astype(np.uint8), affine=volume.affine,
                        classes=CLASSES, engine=ENGINE)
