"""The `oculus` command line, run as a user runs it (a subprocess), on real data."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

BRAIN = "brain-mri/Training"


def oculus(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "oculus.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_mesh_existing_label_map(shared_data, tmp_path):
    result = oculus("mesh", str(shared_data / "ct" / "example_seg.nii.gz"), "-o", str(tmp_path), "--stl", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["ok"] is True
    assert summary["result"]["structures"] == 41
    assert (tmp_path / "scene.glb").stat().st_size > 0
    stls = list((tmp_path / "stl").glob("*.stl"))
    assert len(stls) == 41
    with zipfile.ZipFile(tmp_path / "result.zip") as archive:
        assert {"scene.obj", "scene.mtl", "scene.glb", "report.json", "segmentation.nii.gz"} <= set(archive.namelist())


def test_process_with_threshold_engine_says_it_is_degraded(shared_data, tmp_path):
    result = oculus("process", str(shared_data / "ct" / "example_ct_sm.nii.gz"), "-o", str(tmp_path), "--engine", "threshold")
    assert result.returncode == 0, result.stderr
    assert "threshold" in result.stdout and "DEGRADED" in result.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["engine"]["name"] == "threshold" and report["engine"]["degraded"] is True


def test_not_a_scan_exits_with_input_error(tmp_path):
    bogus = tmp_path / "scan.nii.gz"
    bogus.write_text("not a scan")
    result = oculus("process", str(bogus), "-o", str(tmp_path / "out"), "--json")
    assert result.returncode == 3
    error = json.loads(result.stdout)["error"]
    assert error["code"] and error["message"]


def test_the_console_entry_skips_teardown_but_runs_exit_handlers_and_flushes(tmp_path):
    """``oculus.cli:entry`` (the console script) ends with ``os._exit``: the exit code, the
    buffered output and the exit handlers a normal exit runs must all survive that."""
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).resolve().parents[3] / "sagemaker" / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["oculus"] == "oculus.cli:entry"
    bogus = tmp_path / "scan.nii.gz"
    bogus.write_text("not a scan")
    script = ("import atexit, sys, weakref\n"
              "class Kept: pass\n"
              "kept = Kept()\n"
              "weakref.finalize(kept, print, 'finalizer ran')\n"
              "atexit.register(print, 'atexit ran')\n"
              "sys.stdout.write('buffered ')\n"  # no newline, no flush: lost unless flushed
              f"sys.argv = ['oculus', 'process', {str(bogus)!r}, '-o', {str(tmp_path / 'out')!r}, '--json']\n"
              "from oculus.cli import entry\n"
              "entry()\n"
              "print('never reached')\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 3, result.stderr
    assert result.stdout.startswith("buffered ") and '"ok": false' in result.stdout
    assert "atexit ran" in result.stdout and "finalizer ran" in result.stdout
    assert "never reached" not in result.stdout


def test_bad_reduction_percent_is_a_usage_error(shared_data, tmp_path):
    result = oculus("mesh", str(shared_data / "ct" / "example_seg.nii.gz"), "-o", str(tmp_path), "--reduction-percent", "100")
    assert result.returncode == 2
    assert "0 to 99" in result.stderr


@pytest.mark.slow
def test_classify_many_images_json_lines_in_order(shared_data, tmp_path):
    classes = ["glioma", "meningioma", "notumor", "pituitary"]
    images = [sorted((shared_data / BRAIN / c).glob("*.jpg"))[i] for c in classes for i in range(50)]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    args = [str(p) for p in images[:100]] + [str(broken)] + [str(p) for p in images[100:]]

    result = oculus("classify", *args, "--json")

    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["image"] for line in lines] == args
    assert result.returncode == 5  # one image failed, the other 200 were answered
    assert lines[100]["ok"] is False and lines[100]["error"]["code"]
    answered = [line for line in lines if line["ok"]]
    assert len(answered) == 200
    for line in answered:
        assert abs(sum(line["probabilities"].values()) - 1) < 1e-3  # 4 rounded decimals each
        assert line["predicted_class"] in line["probabilities"]


def test_process_recognises_an_uploaded_label_map_and_meshes_it(shared_data, tmp_path):
    result = oculus("process", str(shared_data / "ct" / "example_seg.nii.gz"), "-o", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["engine"]["name"] == "labels"
    assert "Label map detected: meshing its 41 structures." in report["warnings"]
    assert len(report["structures"]) == 41


def test_process_mr_without_totalsegmentator_gives_the_body_outline(shared_data, tmp_path):
    result = oculus("process", str(shared_data / "ct" / "example_mr_sm.nii.gz"), "-o", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["engine"]["name"] == "threshold"
    assert [s["name"] for s in report["structures"]] == ["body"]
    assert any("Only the body outline is available" in w for w in report["warnings"])



def _gc_after_main(*args: str) -> dict:
    """cli.main(args) in a fresh interpreter; the collector's settings before and after."""
    script = (
        "import gc, json, sys\n"
        "from unittest import mock\n"
        "from oculus import cli\n"
        "before = gc.get_threshold()\n"
        "with mock.patch('oculus.server.serve'):  # serve returns at once\n"
        "    code = cli.main(sys.argv[1:])\n"
        "print(json.dumps({'code': code, 'before': before, 'after': gc.get_threshold(), 'frozen': gc.get_freeze_count()}))\n"
    )
    run = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_a_one_shot_run_collects_rarely_and_freezes_before_exit_but_serve_keeps_the_defaults(shared_data, tmp_path):
    from oculus.cli import ONE_SHOT_GC_THRESHOLDS

    mesh = _gc_after_main("mesh", str(shared_data / "ct" / "example_seg.nii.gz"), "-o", str(tmp_path), "--json")
    assert mesh["code"] == 0 and tuple(mesh["after"]) == ONE_SHOT_GC_THRESHOLDS != tuple(mesh["before"])
    assert mesh["frozen"] > 10_000  # numpy, scipy, VTK, nibabel...: out of the exit-time scan
    serve = _gc_after_main("serve")
    assert serve["code"] == 0 and serve["after"] == serve["before"] and serve["frozen"] == 0
