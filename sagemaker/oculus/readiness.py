"""Readiness of the inference server: ``/ping`` answers at once from a flag while the models load
in a background thread (SageMaker gives each health check 2 s; a cold load takes longer).

Start-up logs the device torch will use, its CUDA build and the NVIDIA driver. Where a GPU is
required (``OCULUS_REQUIRE_GPU=1``: the container and template.yaml set it), an instance whose GPU
torch cannot use never turns ready: ``/ping`` answers 503 with ``gpu_unavailable`` instead of the
engine quietly running TotalSegmentator on the CPU. A laptop leaves it unset and runs on the CPU.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path

log = logging.getLogger("oculus.readiness")

DRIVER_VERSION_FILE = Path("/proc/driver/nvidia/version")


def gpu_required() -> bool:
    return os.environ.get("OCULUS_REQUIRE_GPU", "0").strip().lower() in ("1", "true", "yes")


def nvidia_driver_version() -> str | None:
    """The host's NVIDIA driver version, or None where there is no NVIDIA driver."""
    try:
        # "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.127.05  ..."
        words = DRIVER_VERSION_FILE.read_text().split()
        return next((w for w in words if w[:1].isdigit() and "." in w), None)
    except OSError:
        pass
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    try:
        answer = subprocess.run([smi, "--query-gpu=driver_version", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return answer.stdout.strip().splitlines()[0] if answer.stdout.strip() else None


def gpu_report() -> dict:
    """What torch sees: its version and CUDA build, whether CUDA works, the device and the driver."""
    import torch

    available = torch.cuda.is_available()
    return {
        "torch": torch.__version__,
        "cuda_build": torch.version.cuda,  # None for a CPU build
        "cuda_available": available,
        "device": torch.cuda.get_device_name(0) if available else "cpu",
        "driver": nvidia_driver_version(),
    }


class Readiness:
    """Loads the engine once, in the background, and answers ``/ping`` from the outcome."""

    def __init__(self, load: Callable[[], dict], *, probe_gpu: Callable[[], dict] = gpu_report,
                 require_gpu: bool | None = None, on_ready: Callable[[dict], object] | None = None) -> None:
        self._load = load
        self._on_ready = on_ready  # told the loaded status once (e.g. to publish capabilities)
        self._probe_gpu = probe_gpu
        self._require_gpu = gpu_required() if require_gpu is None else require_gpu
        self._started = False
        self._start_lock = threading.Lock()
        self._done = threading.Event()
        self._status: dict = {}
        self._error: dict | None = None

    def start(self) -> None:
        with self._start_lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._run, name="oculus-load", daemon=True).start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until loading has finished (ready or failed); True if it has."""
        self.start()
        return self._done.wait(timeout)

    @asynccontextmanager
    async def lifespan(self, _app):
        self.start()
        yield

    def ping(self) -> tuple[int, dict]:
        self.start()  # an app used without its lifespan still loads
        if not self._done.is_set():
            return 503, {"ok": False, "error": {"code": "loading", "message": "the engine is loading its models"}}
        if self._error is not None:
            return 503, {"ok": False, "error": self._error, **self._status}
        return 200, {"ok": True, **self._status}

    def _run(self) -> None:
        try:
            gpu = self._probe_gpu()
            self._status = {"gpu": gpu}
            log.info("device %s; torch %s (CUDA build %s, CUDA usable: %s); NVIDIA driver %s",
                     gpu["device"], gpu["torch"], gpu["cuda_build"], gpu["cuda_available"], gpu["driver"] or "none")
            if self._require_gpu and not gpu["cuda_available"]:
                self._error = {
                    "code": "gpu_unavailable",
                    "message": (f"OCULUS_REQUIRE_GPU is set but torch {gpu['torch']} (CUDA {gpu['cuda_build']}) "
                                f"cannot use the GPU with NVIDIA driver {gpu['driver'] or 'none'}: check the "
                                "endpoint's InferenceAmiVersion against the image's CUDA build"),
                }
                log.error("not ready: %s", self._error["message"])
                return
            self._status = {**self._load(), "gpu": gpu}
            log.info("ready")
            if self._on_ready is not None:
                try:
                    self._on_ready(self._status)
                except Exception:  # noqa: BLE001 - serving does not depend on it
                    log.exception("on_ready failed")
        except Exception as exc:  # noqa: BLE001 - a failed load is a 503 with its reason, not a dead server
            log.exception("engine failed to load")
            self._error = {"code": "not_ready", "message": str(exc) or type(exc).__name__}
        finally:
            self._done.set()
