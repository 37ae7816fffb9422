"""Time the DICOM writers add: seg.dcm and rtstruct.dcm for a 512 x 512 x 300 series.

Uses bench_meshing's deterministic synthetic label map (100 bumpy ellipsoids) at 512 x 512 x
300, 0.8 x 0.8 x 1.5 mm, and 300 synthetic axial CT headers (no pixels: the writers never read
them) as the source series. Times, in the same run: the label NIfTI writer the job always runs
(``segmentation.nii.gz``, the baseline) and ``write_dicom_outputs`` (prepare + SEG +
RTSTRUCT), then prints each, the ratio and the file sizes. Command:

    nice .venv/bin/python benchmarks/bench_dicom_outputs.py
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sagemaker"))

SHAPE = (512, 512, 300)
SPACING = (0.8, 0.8, 1.5)


def _bench_meshing():
    spec = importlib.util.spec_from_file_location("bench_meshing", ROOT / "benchmarks" / "bench_meshing.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def synthetic_volume(labels: np.ndarray):
    """A Volume as the loader builds it for an axial series: LAS grid, headers per slice."""
    from nibabel import orientations as ornt
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    from oculus.volume import DicomSource, Volume

    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    datasets, positions = [], []
    for k in range(SHAPE[2]):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, generate_uid()
        ds.PatientID, ds.PatientName, ds.StudyInstanceUID, ds.SeriesInstanceUID = "BENCH", "Bench", study, series
        ds.FrameOfReferenceUID, ds.Modality, ds.StudyDate, ds.StudyTime = frame, "CT", "20240101", "120000"
        ds.Rows, ds.Columns, ds.PixelSpacing, ds.SliceThickness = SHAPE[1], SHAPE[0], list(SPACING[:2]), SPACING[2]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        position = [-200.0, -180.0, -300.0 + k * SPACING[2]]
        ds.ImagePositionPatient = position
        datasets.append(ds)
        positions.append(position)
    lps = np.diag([SPACING[0], SPACING[1], SPACING[2], 1.0])
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps
    transform = ornt.ornt_transform(ornt.io_orientation(ras), ornt.axcodes2ornt(("L", "A", "S")))
    affine = ras @ ornt.inv_ornt_aff(transform, SHAPE)
    source = DicomSource(datasets=datasets, positions=np.array(positions),
                         orientation=np.array([1.0, 0, 0, 0, 1, 0]), pixel_spacing=SPACING[:2],
                         rows=SHAPE[1], columns=SHAPE[0], orientation_transform=transform)
    return Volume(data=np.zeros((1, 1, 1), np.int16), affine=affine, source_format="dicom-series",
                  modality="CT", dicom_source=source)


def main() -> None:
    from oculus.dicom_out import write_dicom_outputs
    try:
        from oculus.export_nifti import write_label_nifti
    except ImportError:  # before the result-file registry split outputs.py
        from oculus.outputs import write_label_nifti
    from oculus.segment.base import EngineInfo, Segmentation

    labels = _bench_meshing().synthetic_label_map(shape=SHAPE, spacing=SPACING)
    volume = synthetic_volume(labels)
    classes = {label: f"structure_{label}" for label in range(1, 101)}
    segmentation = Segmentation(labels=labels, affine=volume.affine, classes=classes,
                                engine=EngineInfo("totalsegmentator", "2.18.0", "total"))
    present = int(np.count_nonzero(np.bincount(labels.ravel())[1:]))
    print(f"label map {SHAPE} {SPACING} mm, {present} structures, {int(np.count_nonzero(labels))} labelled voxels")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        t0, c0 = time.perf_counter(), time.process_time()
        write_label_nifti(segmentation, out / "segmentation.nii.gz")
        baseline, baseline_cpu = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        result = write_dicom_outputs(volume, segmentation, out)
        ours, ours_cpu = time.perf_counter() - t0, time.process_time() - c0
        sizes = {name: (out / name).stat().st_size / 1e6 for name in result.names}
    # CPU seconds as well: on a shared machine wall time mostly measures the neighbours
    print(f"baseline segmentation.nii.gz writer: {baseline:.2f} s wall, {baseline_cpu:.2f} s CPU")
    print(f"DICOM writers (prepare + SEG + RTSTRUCT): {ours:.2f} s wall ({ours / baseline:.1f}x the "
          f"baseline), {ours_cpu:.2f} s CPU ({ours_cpu / baseline_cpu:.1f}x)")
    print("  per file: " + ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items()))
    print("  files: " + ", ".join(f"{k} {v:.1f} MB" for k, v in sizes.items()))
    if result.warnings:
        print("  warnings: " + " | ".join(result.warnings))


if __name__ == "__main__":
    main()
