"""/ping answers from a ready flag while the engine loads in the background, and refuses (503) an
instance whose GPU torch cannot use when the GPU is required (OCULUS_REQUIRE_GPU=1)."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from oculus import readiness as readiness_module
from oculus.readiness import Readiness, gpu_report, nvidia_driver_version
from oculus.server import create_app

CPU_ONLY = {"torch": "2.13.0+cpu", "cuda_build": None, "cuda_available": False, "device": "cpu", "driver": None}
ON_A_T4 = {"torch": "2.6.0+cu124", "cuda_build": "12.4", "cuda_available": True, "device": "Tesla T4",
           "driver": "550.127.05"}


def test_ping_answers_loading_until_the_engine_is_loaded():
    release = threading.Event()

    def slow_load() -> dict:
        release.wait(30)
        return {"segmentation": {"default": "threshold"}}

    ready = Readiness(load=slow_load, probe_gpu=lambda: CPU_ONLY, require_gpu=False)
    ready.start()
    status, body = ready.ping()  # the loader is blocked: the answer cannot have waited for it
    assert status == 503 and body["error"]["code"] == "loading"
    release.set()
    assert ready.wait(30)
    status, body = ready.ping()
    assert status == 200 and body["ok"] is True
    assert body["segmentation"] == {"default": "threshold"} and body["gpu"] == CPU_ONLY


def test_required_gpu_that_torch_cannot_use_is_never_ready():
    loads = []
    ready = Readiness(load=lambda: loads.append(1) or {}, probe_gpu=lambda: {**ON_A_T4, "cuda_available": False},
                      require_gpu=True)
    assert ready.wait(30)
    status, body = ready.ping()
    assert status == 503
    assert body["error"]["code"] == "gpu_unavailable"
    assert "12.4" in body["error"]["message"] and "550.127.05" in body["error"]["message"]
    assert body["gpu"]["cuda_available"] is False
    assert loads == [], "the models are not loaded for an engine that will not serve"


def test_required_gpu_that_works_is_ready():
    ready = Readiness(load=lambda: {"version": "x"}, probe_gpu=lambda: ON_A_T4, require_gpu=True)
    assert ready.wait(30)
    status, body = ready.ping()
    assert status == 200 and body["gpu"]["device"] == "Tesla T4" and body["version"] == "x"


def test_a_failed_load_is_a_503_with_its_reason():
    def broken() -> dict:
        raise RuntimeError("weights folder unreadable")

    ready = Readiness(load=broken, probe_gpu=lambda: CPU_ONLY, require_gpu=False)
    assert ready.wait(30)
    status, body = ready.ping()
    assert status == 503 and body["error"] == {"code": "not_ready", "message": "weights folder unreadable"}


@pytest.mark.parametrize(("value", "required"), [("1", True), ("true", True), ("0", False), ("", False)])
def test_require_gpu_comes_from_the_environment(monkeypatch, value, required):
    monkeypatch.setenv("OCULUS_REQUIRE_GPU", value)
    assert readiness_module.gpu_required() is required


def test_driver_version_is_read_from_the_kernel_module(tmp_path, monkeypatch):
    version_file = tmp_path / "version"
    version_file.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.127.05  Tue Oct  8 2024\n"
                            "GCC version:  gcc version 10.5.0 (GCC)\n")
    monkeypatch.setattr(readiness_module, "DRIVER_VERSION_FILE", version_file)
    assert nvidia_driver_version() == "550.127.05"


def test_gpu_report_on_this_machine_names_torch_and_its_cuda_build():
    import torch

    report = gpu_report()
    assert report["torch"] == torch.__version__
    assert report["cuda_build"] == torch.version.cuda
    assert report["cuda_available"] is torch.cuda.is_available()
    if not report["cuda_available"]:
        assert report["device"] == "cpu"


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a usable GPU")
def test_server_with_the_gpu_required_on_a_cpu_machine_answers_503(monkeypatch):
    monkeypatch.setenv("OCULUS_REQUIRE_GPU", "1")
    with TestClient(create_app()) as client:
        assert client.app.state.readiness.wait(60)
        response = client.get("/ping")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "gpu_unavailable"


def test_server_turns_ready_after_loading_in_the_background(monkeypatch):
    monkeypatch.delenv("OCULUS_REQUIRE_GPU", raising=False)
    with TestClient(create_app()) as client:
        first = client.get("/ping")
        assert first.status_code in (200, 503)
        if first.status_code == 503:
            assert first.json()["error"]["code"] == "loading"
        assert client.app.state.readiness.wait(120)
        ready = client.get("/ping")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["ok"] is True and body["segmentation"]["threshold"] is True
    assert "cuda_available" in body["gpu"] and "driver" in body["gpu"]


def test_on_ready_is_told_the_loaded_status_once_and_cannot_break_ping():
    told = []

    def on_ready(status):
        told.append(status)
        raise RuntimeError("the bucket is unreachable")

    ready = Readiness(load=lambda: {"segmentation": {"default": "threshold"}}, probe_gpu=lambda: CPU_ONLY,
                      require_gpu=False, on_ready=on_ready)
    assert ready.wait(30)
    status, _ = ready.ping()
    assert status == 200 and told == [{"segmentation": {"default": "threshold"}, "gpu": CPU_ONLY}]


def test_a_gpu_refusal_publishes_nothing():
    told = []
    ready = Readiness(load=dict, probe_gpu=lambda: {**ON_A_T4, "cuda_available": False}, require_gpu=True,
                      on_ready=told.append)
    assert ready.wait(30)
    assert ready.ping()[0] == 503 and told == []
