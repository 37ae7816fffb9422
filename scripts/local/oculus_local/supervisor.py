"""Keeps the inference server serving, as SageMaker keeps its container: a health check on
``/ping`` and a restart when the process exits or stops answering.

A server that is still loading answers 503 and is left alone (SageMaker allows a container
minutes to become ready); one that exits, or refuses connections for ``max_failures`` checks in
a row, is killed (its whole process group) and started again.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

log = logging.getLogger("oculus_local.supervisor")


def ping(url: str, timeout_s: float = 2.0) -> int | None:
    """The HTTP status of ``GET url`` (503 while loading), or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None


class Supervisor:
    def __init__(self, start: Callable[[], subprocess.Popen], ping_url: str, *, interval_s: float = 1.0,
                 max_failures: int = 3, on_restart: Callable[[subprocess.Popen], None] | None = None) -> None:
        self._start = start
        self.ping_url = ping_url
        self.interval_s = interval_s
        self.max_failures = max_failures
        self.on_restart = on_restart
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, process: subprocess.Popen) -> None:
        """Watch ``process`` (already started) from now on."""
        self.process = process
        self._thread = threading.Thread(target=self._watch, name="inference-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wait_healthy(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ping(self.ping_url) == 200:
                return True
            time.sleep(0.2)
        return False

    def _watch(self) -> None:
        failures = 0
        while not self._stop.wait(self.interval_s):
            process = self.process
            if process is None:
                continue
            if process.poll() is not None:
                self._restart(f"exited with code {process.returncode}")
                failures = 0
                continue
            failures = failures + 1 if ping(self.ping_url) is None else 0
            if failures >= self.max_failures:
                self._restart(f"did not answer {failures} health checks")
                failures = 0

    def _restart(self, why: str) -> None:
        if self._stop.is_set():
            return
        log.warning("inference server %s; restarting it", why)
        kill_group(self.process)
        self.process = self._start()
        self.restarts += 1
        if self.on_restart:
            self.on_restart(self.process)


def kill_group(process: subprocess.Popen | None) -> None:
    """SIGKILL a process started with ``start_new_session`` and everything in its group."""
    if process is None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        log.error("inference server pid %d did not die", process.pid)
