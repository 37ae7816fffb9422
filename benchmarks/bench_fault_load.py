"""Load and fault proof (issue 11): many jobs from many users at once on the local stack, the
inference server killed once mid-run, one deflate bomb among them.

    nice -n 5 .venv/bin/python benchmarks/bench_fault_load.py [--jobs 50] [--users 10] [--volumes 4]

It starts its own stack (``scripts/oculus-local up`` on free 127.0.0.1 ports, a temporary state
folder), creates the users in the stack's Cognito, and runs every job in its own thread as a
client would: upload (presigned PUT), complete, process, poll ``GET /jobs/{id}``; a 429 is
waited out as its ``Retry-After`` says. Job 0 is a 2 GiB deflate-bomb DICOM (2 MB on disk) sent
for classification; ``--volumes`` jobs segment ``example_ct_sm.nii.gz``; the rest classify
brain-MRI slices. Once a few jobs have finished, the inference server is killed (SIGKILL).

Passes (exit 0) when every job ends ``completed`` or ``failed`` with a code within
``--deadline`` seconds of its submission, the bomb fails with ``decompression_bomb``, no other
job fails, and none is lost. There is no baseline ratio: this measures correctness under load
and faults, not speed; the wall times are printed for reference.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import requests

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("OCULUS_SHARED_DATA", ROOT.parent / "shared" / "data"))
PASSWORD = "Proof-user-Passw0rd"


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_stack(state_dir: Path) -> tuple[subprocess.Popen, dict]:
    moto, api, inference, web, sagemaker = _free_ports(5)
    env = {**os.environ, "OCULUS_MOTO_PORT": str(moto), "OCULUS_API_PORT": str(api),
           "OCULUS_INFERENCE_PORT": str(inference), "OCULUS_WEB_PORT": str(web),
           "OCULUS_SAGEMAKER_PORT": str(sagemaker), "OCULUS_LOCAL_STATE_DIR": str(state_dir),
           "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "oculus-local"), "up"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / "stack.log"

    def pump(ready: threading.Event) -> None:
        with log_path.open("w") as log:
            for line in process.stdout:  # type: ignore[union-attr]
                log.write(line)
                log.flush()
                if line.strip() == "READY":
                    ready.set()

    ready = threading.Event()
    threading.Thread(target=pump, args=(ready,), daemon=True).start()
    if not ready.wait(240):
        stop_stack(process)
        raise SystemExit(f"the local stack did not start; see {log_path}")
    return process, requests.get(f"http://127.0.0.1:{web}/config.json", timeout=10).json()


def stop_stack(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def sign_in_users(outputs: dict, count: int) -> list[str]:
    cognito = boto3.client("cognito-idp", region_name=outputs["Region"], endpoint_url=outputs["CognitoEndpoint"],
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    tokens = []
    for n in range(count):
        email = f"proof-{n}-{os.getpid()}@oculus.local"
        cognito.admin_create_user(UserPoolId=outputs["UserPoolId"], Username=email, MessageAction="SUPPRESS",
                                  UserAttributes=[{"Name": "email", "Value": email}])
        cognito.admin_set_user_password(UserPoolId=outputs["UserPoolId"], Username=email, Password=PASSWORD,
                                        Permanent=True)
        answer = cognito.initiate_auth(ClientId=outputs["UserPoolClientId"], AuthFlow="USER_PASSWORD_AUTH",
                                       AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})
        tokens.append(answer["AuthenticationResult"]["IdToken"])
    return tokens


class Client:
    def __init__(self, api: str, token: str) -> None:
        self.api, self.headers = api.rstrip("/"), {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        """One API call; a 429 is waited out as Retry-After says (at most 10 minutes)."""
        give_up = time.monotonic() + 600
        while True:
            response = requests.request(method, self.api + path, headers=self.headers, timeout=60, **kwargs)
            if response.status_code != 429 or time.monotonic() > give_up:
                return response
            time.sleep(min(30.0, float(response.headers.get("Retry-After", "5"))))


def run_job(client: Client, name: str, content: bytes, task: str, deadline_s: float, finished: Counter) -> dict:
    submitted = time.monotonic()
    record = {"name": name, "task": task}
    created = client.call("POST", "/upload", json={"filename": name, "size": len(content)})
    if created.status_code != 201:
        return {**record, "status": "refused", "error": created.text[:200], "seconds": 0}
    job_id = created.json()["jobId"]
    requests.put(created.json()["upload"]["url"], data=content, timeout=120).raise_for_status()
    completed = client.call("POST", f"/upload/{job_id}/complete")
    body = {"jobId": job_id, "device": "cpu", "reduction_percent": 90} if task == "totalseg" else {"jobId": job_id}
    started = client.call("POST", f"/process/{task}", json=body) if completed.status_code == 200 else completed
    record["jobId"] = job_id
    job: dict = {}
    while time.monotonic() - submitted < deadline_s:
        job = client.call("GET", f"/jobs/{job_id}").json().get("job") or {}
        if job.get("status") in ("completed", "failed"):
            break
        time.sleep(1.0)
    status = job.get("status", "lost")
    if status not in ("completed", "failed"):
        status = "lost"  # not finished within its deadline
    finished[status] += 1
    return {**record, "status": status, "accepted": started.status_code == 202,
            "error": (job.get("error") or {}).get("code"), "seconds": round(time.monotonic() - submitted, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--volumes", type=int, default=4, help="jobs that segment a CT (the rest classify)")
    parser.add_argument("--deadline", type=float, default=1500, help="seconds a job may take from submission")
    parser.add_argument("--kill-after", type=int, default=5, help="kill the engine once this many jobs ended")
    args = parser.parse_args()

    spec = importlib.util.spec_from_file_location("bombs", ROOT / "tests" / "bombs.py")
    bombs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bombs)
    slices = sorted((DATA / "brain-mri" / "Training").glob("*/*.jpg"))[:: 37]
    ct = (DATA / "ct" / "example_ct_sm.nii.gz").read_bytes()

    with tempfile.TemporaryDirectory(prefix="oculus-proof-") as tmp:
        bomb = bombs.write_deflated_dicom_bomb(Path(tmp) / "slice.dcm", 2 * 1024**3).read_bytes()
        plan = [("slice.dcm", bomb, "classify")]
        volume_every = max(1, (args.jobs - 1) // max(args.volumes, 1))
        for i in range(1, args.jobs):
            if args.volumes and i % volume_every == 0 and sum(t == "totalseg" for *_, t in plan) < args.volumes:
                plan.append(("ct.nii.gz", ct, "totalseg"))
            else:
                plan.append(("slice.jpg", slices[i % len(slices)].read_bytes(), "classify"))
        state_dir = Path(tmp) / "state"
        began = time.monotonic()
        stack, outputs = start_stack(state_dir)
        print(f"stack up in {time.monotonic() - began:.0f} s; {len(plan)} jobs from {args.users} users "
              f"({sum(t == 'totalseg' for *_, t in plan)} CT segmentations, 1 deflate bomb)", flush=True)
        try:
            clients = [Client(outputs["ApiUrl"], token) for token in sign_in_users(outputs, args.users)]
            finished: Counter = Counter()
            killed: dict = {}

            def killer() -> None:
                while sum(finished.values()) < args.kill_after and not killed.get("stop"):
                    time.sleep(0.5)
                if killed.get("stop"):
                    return
                pid = json.loads((state_dir / "state.json").read_text())["inferencePid"]
                os.kill(pid, signal.SIGKILL)
                killed.update(pid=pid, at=round(time.monotonic() - began, 1))
                print(f"killed the inference server (pid {pid}) after {sum(finished.values())} jobs ended", flush=True)

            threading.Thread(target=killer, daemon=True).start()
            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=len(plan)) as pool:
                futures = [pool.submit(run_job, clients[i % len(clients)], name, content, task, args.deadline, finished)
                           for i, (name, content, task) in enumerate(plan)]
                results = [f.result() for f in futures]
            killed["stop"] = True
            wall = time.monotonic() - started
            state = json.loads((state_dir / "state.json").read_text())
        finally:
            stop_stack(stack)

    bomb_result, others = results[0], results[1:]
    outcome = Counter((r["status"], r["error"]) for r in results)
    seconds = [r["seconds"] for r in results]
    print(json.dumps({
        "jobs": len(results), "users": args.users, "wall_s": round(wall, 1),
        "outcomes": {f"{s}:{e}" if e else s: n for (s, e), n in sorted(outcome.items(), key=str)},
        "bomb": {k: bomb_result.get(k) for k in ("status", "error", "seconds")},
        "engine_killed": killed, "engine_restarts": state.get("inferenceRestarts"),
        "job_seconds": {"median": statistics.median(seconds), "max": max(seconds)},
        "deadline_s": args.deadline,
    }, indent=2))
    ok = (bomb_result["status"] == "failed" and bomb_result["error"] == "decompression_bomb"
          and all(r["status"] == "completed" for r in others) and "pid" in killed)
    if not ok:
        for r in results:
            if r["status"] != "completed":
                print("not completed:", r)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
