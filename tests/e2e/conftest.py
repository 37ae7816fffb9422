"""The running local stack (``scripts/oculus-local up`` on free ports), driven over HTTP only.

One stack per session: it is started as a subprocess, the fixture waits for its READY line,
and the process (which ends its own children) is stopped by PID at the end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

import boto3
import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_EMAIL = "e2e-demo@oculus.local"
DEMO_PASSWORD = "E2e-demo-Passw0rd"
STARTUP_TIMEOUT_S = 180  # generous: two cores shared with other work


def _free_ports(count: int) -> list[int]:
    sockets, ports = [], []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
        ports.append(s.getsockname()[1])
    for s in sockets:
        s.close()
    return ports


class RunningStack:
    def __init__(self, process: subprocess.Popen, outputs: dict, log: deque, env: dict) -> None:
        self.env = env
        self.process = process
        self.outputs = outputs
        self.log = log

    @property
    def api(self) -> str:
        return self.outputs["ApiUrl"].rstrip("/")

    def cognito(self):
        return boto3.client("cognito-idp", region_name=self.outputs["Region"],
                            endpoint_url=self.outputs["CognitoEndpoint"],
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def sign_in(self, email: str, password: str) -> str:
        """The ID token, from Cognito's USER_PASSWORD_AUTH as the web app's sign-in gets it."""
        answer = self.cognito().initiate_auth(
            ClientId=self.outputs["UserPoolClientId"], AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )
        return answer["AuthenticationResult"]["IdToken"]


def start_stack(state_dir: Path, email: str, password: str, *extra_args: str) -> RunningStack:
    """``oculus-local up`` on free ports with its own state folder, once it says READY."""
    moto, api, inference, web, sagemaker = _free_ports(5)
    env = {
        **os.environ,
        "OCULUS_MOTO_PORT": str(moto), "OCULUS_API_PORT": str(api), "OCULUS_INFERENCE_PORT": str(inference),
        "OCULUS_WEB_PORT": str(web), "OCULUS_SAGEMAKER_PORT": str(sagemaker),
        "OCULUS_DEMO_EMAIL": email, "OCULUS_DEMO_PASSWORD": password,
        "PYTHONUNBUFFERED": "1",
        # outputs.json and logs of this stack stay out of a developer's running one
        "OCULUS_LOCAL_STATE_DIR": str(state_dir),
    }
    process = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "scripts" / "oculus-local"), "up", *extra_args], cwd=REPO_ROOT,
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    log: deque[str] = deque(maxlen=400)
    ready = threading.Event()

    def pump() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            log.append(line.rstrip())
            if line.strip() == "READY":
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not ready.is_set() and process.poll() is None and time.monotonic() < deadline:
        ready.wait(0.2)
    if not ready.is_set():
        _stop(process)
        pytest.fail("the local stack did not become ready:\n" + "\n".join(log))
    outputs = requests.get(f"http://127.0.0.1:{web}/config.json", timeout=10).json()
    return RunningStack(process, outputs, log, env)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory) -> RunningStack:
    stack = start_stack(tmp_path_factory.mktemp("oculus-local-state"), DEMO_EMAIL, DEMO_PASSWORD)
    yield stack
    state = json.loads((Path(stack.env["OCULUS_LOCAL_STATE_DIR"]) / "state.json").read_text())
    _stop(stack.process)
    assert stack.process.returncode == 0, "\n".join(stack.log)
    assert not _alive(state["inferencePid"]), "the inference server outlived the stack"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def demo_token(local_stack: RunningStack) -> str:
    return local_stack.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
