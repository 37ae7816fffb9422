"""The local stack's supervisor restarts an inference server that died, as SageMaker does."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from oculus_local.supervisor import Supervisor, kill_group, ping


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_dead_server_is_restarted_and_serves_again(tmp_path):
    (tmp_path / "ping").write_text("{}")  # http.server answers GET /ping with this file: a 200
    port = _free_port()
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                                   cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        started.append(process)
        return process

    supervisor = Supervisor(start, f"http://127.0.0.1:{port}/ping", interval_s=0.2)
    try:
        supervisor.start(start())
        assert supervisor.wait_healthy(30)
        os.kill(started[0].pid, signal.SIGKILL)  # the engine dies
        for _ in range(300):
            if supervisor.restarts:
                break
            time.sleep(0.1)
        assert supervisor.wait_healthy(30)
        assert supervisor.restarts == 1 and len(started) == 2
        assert started[0].poll() is not None and started[1].poll() is None
        assert ping(f"http://127.0.0.1:{port}/ping") == 200
    finally:
        supervisor.stop()
        for process in started:
            kill_group(process)
