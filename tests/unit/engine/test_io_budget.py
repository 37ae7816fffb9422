"""Decompression budgets (oculus.io.budget): every compressed layer is refused before it is spent."""

from __future__ import annotations

import gzip
import importlib.util
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from PIL import Image

from oculus.errors import InputError, OculusError
from oculus.io import budget, load_image, load_volume

_spec = importlib.util.spec_from_file_location("bombs", Path(__file__).parents[2] / "bombs.py")
bombs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bombs)

SMALL_BOMB = 64 * 1024**2  # inflates past the 16 MiB header allowance + 128 KiB of pixels


def test_a_deflated_dicom_that_matches_its_header_is_read(tmp_path):
    path = bombs.write_deflated_dicom_bomb(tmp_path / "ok.dcm", 256 * 256 * 2 + 1024)
    budget.check_deflated_dicom(path)
    assert len(pydicom.dcmread(path).PixelData) >= 256 * 256 * 2


@pytest.mark.parametrize("loader", [load_volume, load_image])
def test_a_deflated_dicom_bomb_is_refused_with_a_code(tmp_path, loader):
    path = bombs.write_deflated_dicom_bomb(tmp_path / "bomb.dcm", SMALL_BOMB)
    with pytest.raises(InputError) as caught:
        loader(path)
    assert caught.value.code == "decompression_bomb"


def test_a_deflated_bomb_inside_a_zip_is_refused(tmp_path):
    bomb = bombs.write_deflated_dicom_bomb(tmp_path / "bomb.dcm", SMALL_BOMB)
    archive = tmp_path / "series.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:  # stored: the ZIP ratio check passes
        zf.write(bomb, "series/1.dcm")
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(InputError) as caught:
        load_volume(archive, work_dir=work)
    assert caught.value.code == "decompression_bomb"
    assert list(work.iterdir()) == []


def test_declared_pixels_past_the_memory_limit_are_refused(tmp_path):
    path = bombs.write_deflated_dicom_bomb(tmp_path / "big.dcm", 4 * 1024**2, rows=4096, columns=4096)
    with pytest.raises(InputError) as caught:
        budget.check_deflated_dicom(path, memory_limit=64 * 1024**2)
    assert caught.value.code == "scan_too_large"


def test_a_damaged_deflate_stream_is_corrupt_dicom(tmp_path):
    path = bombs.write_deflated_dicom_bomb(tmp_path / "ok.dcm", 256 * 256 * 2 + 1024)
    data = bytearray(path.read_bytes())
    data[-40:] = b"\xff" * 40
    path.write_bytes(bytes(data))
    with pytest.raises(OculusError) as caught:
        budget.check_deflated_dicom(path)
    assert caught.value.code == "corrupt_dicom"


def test_other_files_pass_untouched(tmp_path, shared_data):
    budget.check_deflated_dicom(shared_data / "ct" / "pydicom_CT_small.dcm")
    text = tmp_path / "notes.txt"
    text.write_text("not dicom")
    budget.check_deflated_dicom(text)


def test_a_gzip_nifti_declaring_more_than_the_memory_budget_is_refused_before_inflating(tmp_path, monkeypatch):
    # 512^3 int16 zeros: 256 MiB declared, ~250 KiB on disk; the budget allows 64/4 = 16 MiB
    monkeypatch.setenv("OCULUS_MEMORY_LIMIT_BYTES", str(64 * 1024**2))
    header = nib.Nifti1Header()
    header.set_data_shape((512, 512, 512))
    header.set_data_dtype(np.int16)
    path = tmp_path / "zeros.nii.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(header.binaryblock + b"\x00" * 4)
        chunk = bytes(16 * 1024**2)
        for _ in range(16):
            fh.write(chunk)
    with pytest.raises(InputError) as caught:
        load_volume(path)
    assert caught.value.code == "scan_too_large"


def test_memory_limit_follows_the_environment(monkeypatch):
    monkeypatch.setenv("OCULUS_MEMORY_LIMIT_BYTES", str(8 * 1024**3))
    assert budget.memory_limit_bytes() == 8 * 1024**3
    assert budget.max_scan_bytes() == 2 * 1024**3
    monkeypatch.delenv("OCULUS_MEMORY_LIMIT_BYTES")
    assert 0 < budget.memory_limit_bytes()


def test_pillow_refuses_images_past_the_pixel_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)
    path = tmp_path / "wide.png"
    Image.new("L", (3000, 3000)).save(path)
    with pytest.raises(InputError) as caught:
        load_image(path, max_pixels=1_000_000)
    assert caught.value.code == "image_too_large"
    budget.configure_pillow(1_000_000)
    assert Image.MAX_IMAGE_PIXELS == 1_000_000
