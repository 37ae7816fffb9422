"""The inference server SageMaker runs (``docker run IMAGE serve``) and a laptop runs too.

``GET /ping`` answers 200 once the engine can serve. ``POST /invocations`` takes the request
manifest ``{jobId, task, input, output, options}``, reads the input from S3, writes results and
``progress.json`` under the output prefix and answers the JSON summary. A failed job answers a
4xx/5xx with ``{ok: false, error: {code, message}}`` so SageMaker async routes it to the error
topic; no input, however bad, takes the server down.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
import traceback
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from . import __version__
from .errors import InputError, OculusError
from .storage import ProgressPublisher, S3Location, download, put_json, upload_dir

log = logging.getLogger("oculus.server")

JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TASKS = ("totalseg", "classify", "mesh")

# SageMaker async runs one invocation per instance (MaxConcurrentInvocationsPerInstance=1);
# the lock keeps a laptop honest too: GPU memory and TotalSegmentator are not re-entrant.
_job_lock = threading.Lock()
_classifier = None
_classifier_lock = threading.Lock()


def _get_classifier():
    global _classifier
    with _classifier_lock:
        if _classifier is None:
            from .classify import load_classifier

            _classifier = load_classifier()
        return _classifier


def engine_status() -> dict:
    """What this server can do right now (for /ping and the local stack's banner)."""
    from .segment.totalseg import weights_available

    full, fast = weights_available("total", fast=False), weights_available("total", fast=True)
    status = {
        "version": __version__,
        "segmentation": {
            "totalsegmentator": {"total": full, "total_fast": fast},
            "threshold": True,
            "default": "totalsegmentator" if (full or fast) else "threshold",
        },
    }
    try:
        status["classifier"] = {"available": True, **_get_classifier().model_info()}
    except OculusError as exc:
        status["classifier"] = {"available": False, **exc.to_dict()}
    return status


def _parse_manifest(body: object) -> tuple[str, str, S3Location, S3Location, dict]:
    if not isinstance(body, dict):
        raise InputError("the request body must be a JSON object", code="invalid_manifest")
    job_id = body.get("jobId")
    if not isinstance(job_id, str) or not JOB_ID.match(job_id):
        raise InputError("jobId is missing or malformed", code="invalid_manifest")
    task = body.get("task")
    if task not in TASKS:
        raise InputError(f"task must be one of {', '.join(TASKS)}", code="invalid_manifest")
    if not isinstance(body.get("input"), str) or not isinstance(body.get("output"), str):
        raise InputError("input and output must be s3:// locations", code="invalid_manifest")
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise InputError("options must be a JSON object", code="invalid_manifest")
    return job_id, task, S3Location.parse(body["input"]), S3Location.parse(body["output"]), options


def run_job(manifest: object) -> tuple[int, dict]:
    """Run one manifest end to end; returns (HTTP status, JSON body). Never raises."""
    job_id = manifest.get("jobId") if isinstance(manifest, dict) else None
    try:
        job_id, task, source, output, options = _parse_manifest(manifest)
    except OculusError as exc:
        return exc.http_status, {"ok": False, "jobId": job_id, "error": exc.to_dict()}

    progress = ProgressPublisher(job_id, output)
    workdir = Path(tempfile.mkdtemp(prefix=f"oculus-{job_id}-"))
    try:
        with _job_lock:
            progress("loading", 0)
            (workdir / "input").mkdir()
            scan = download(source, workdir / "input")
            out_dir = workdir / "out"
            summary = _run_task(task, scan, out_dir, workdir, options, progress)
            progress("packaging", 99)
            summary["files"] = upload_dir(out_dir, output)
            summary["jobId"] = job_id
            progress("done", 100)
        return 200, summary
    except OculusError as exc:
        log.info("job %s failed: %s", job_id, exc.code)
        status, body = exc.http_status, {"ok": False, "jobId": job_id, "error": exc.to_dict()}
    except MemoryError:
        status, body = 507, {
            "ok": False,
            "jobId": job_id,
            "error": {"code": "out_of_memory", "message": "the scan is too large for this instance"},
        }
    except Exception:  # noqa: BLE001 - a bug must fail the job, not the server
        log.error("job %s crashed:\n%s", job_id, traceback.format_exc())
        status, body = 500, {
            "ok": False,
            "jobId": job_id,
            "error": {"code": "internal_error", "message": "the engine failed unexpectedly; the team has the logs"},
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    try:
        put_json(output.child("progress.json"), {"jobId": job_id, "stage": "failed", "percent": 100, "error": body["error"]})
    except Exception:  # noqa: BLE001
        pass
    return status, body


def _run_task(task: str, scan: Path, out_dir: Path, workdir: Path, options: dict, progress) -> dict:
    from .pipeline import ProcessOptions, classify_job, mesh_label_map, process_scan

    if task == "classify":
        progress("classifying", 10)
        return classify_job(scan, out_dir, _get_classifier())
    process_options = ProcessOptions.from_manifest(options)
    if task == "mesh":
        return mesh_label_map(scan, out_dir, process_options, progress=progress)
    return process_scan(scan, out_dir, process_options, progress, work_dir=workdir)


def create_app() -> FastAPI:
    app = FastAPI(title="IRIS Oculus inference server", version=__version__)

    @app.get("/ping")
    def ping() -> JSONResponse:
        try:
            status = engine_status()
        except Exception as exc:  # noqa: BLE001
            return JSONResponse({"ok": False, "error": {"code": "not_ready", "message": str(exc)}}, 503)
        return JSONResponse({"ok": True, **status})

    @app.post("/invocations")
    async def invocations(request: Request) -> JSONResponse:
        try:
            manifest = await request.json()
        except Exception:  # noqa: BLE001
            return JSONResponse(
                {"ok": False, "error": {"code": "invalid_manifest", "message": "the body is not JSON"}}, 400
            )
        # The job runs in a worker thread so /ping keeps answering while a scan is processed.
        from starlette.concurrency import run_in_threadpool

        status, body = await run_in_threadpool(run_job, manifest)
        return JSONResponse(body, status)

    return app


def serve(host: str | None = None, port: int | None = None) -> None:
    import uvicorn

    logging.basicConfig(level=os.environ.get("OCULUS_LOG_LEVEL", "INFO"))
    uvicorn.run(
        create_app(),
        # The container sets OCULUS_HOST=0.0.0.0 (SageMaker connects from outside); a laptop
        # never listens beyond loopback.
        host=host or os.environ.get("OCULUS_HOST", "127.0.0.1"),
        port=int(port or os.environ.get("SAGEMAKER_BIND_TO_PORT", 8080)),
        log_level="info",
    )
