"""The inference server SageMaker runs (``docker run IMAGE serve``) and a laptop runs too.

``GET /ping`` answers 200 once the engine can serve (every classifier version loaded; ``GET
/model-info`` lists them and the default). ``POST /invocations`` takes the request
manifest ``{jobId, task, input, output, options}``, reads the input from S3, writes results and
``progress.json`` under the output prefix and answers the JSON summary. A failed job answers a
4xx/5xx with ``{ok: false, error: {code, message}}`` so SageMaker async routes it to the error
topic; no input, however bad, takes the server down: the manifest may name only the job's own
upload and results prefix (``storage.check_job_locations``), and each job runs in a child
process with a deadline and a memory limit (``job_process``), so a job that runs too long or
too big fails with a code (``timeout``, ``out_of_memory``) and the job lock is free again.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
import time
import traceback
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from . import __version__
from .capabilities import publish as publish_capabilities
from .capabilities import segmentation_capabilities
from .errors import InputError, OculusError
from .job_process import keep_spare_warm, run_job_process
from .readiness import Readiness
from .storage import (
    ProgressPublisher,
    S3Location,
    check_job_locations,
    delete_objects,
    download,
    put_json,
    upload_files,
)
from .tasks import TASKS

log = logging.getLogger("oculus.server")

JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# SageMaker async runs one invocation per instance (MaxConcurrentInvocationsPerInstance=1);
# the lock keeps a laptop honest too: GPU memory and TotalSegmentator are not re-entrant.
_job_lock = threading.Lock()


def classifier_versions() -> dict:
    """Every served classifier version, loaded (once per process: ``classify.registry``), with
    its card's key facts; the default version's facts also on top, as before versions existed."""
    from .classify import registry

    index = registry.read_index()
    loaded = {version: registry.load_version(version).model_info() for version in index["versions"]}
    return {**loaded[index["default"]], "default": index["default"], "versions": list(loaded.values())}


def engine_status() -> dict:
    """What this server can do right now (for /ping, the local stack's banner and, published
    once ready, the API's ``GET /capabilities``: ``oculus.capabilities``)."""
    status = {"version": __version__, "segmentation": segmentation_capabilities()}
    try:
        status["classifier"] = {"available": True, **classifier_versions()}
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
    if not isinstance(body.get("inputETag", ""), str):
        raise InputError("inputETag must be a string", code="invalid_manifest")
    source, output = S3Location.parse(body["input"]), S3Location.parse(body["output"])
    check_job_locations(job_id, source, output)
    return job_id, task, source, output, options


def run_job(manifest: object) -> tuple[int, dict]:
    """Run one manifest end to end; returns (HTTP status, JSON body). Never raises."""
    job_id = manifest.get("jobId") if isinstance(manifest, dict) else None
    try:
        job_id, task, source, output, options = _parse_manifest(manifest)
    except OculusError as exc:
        return exc.http_status, {"ok": False, "jobId": job_id, "error": exc.to_dict()}

    progress = ProgressPublisher(job_id, output)
    workdir = Path(tempfile.mkdtemp(prefix=f"oculus-{job_id}-"))
    early: dict[str, dict] = {}  # name -> uploaded entry, of the files published before the end
    try:
        with _job_lock:
            started = time.perf_counter()
            progress("loading", 0)
            (workdir / "input").mkdir()
            scan = download(source, workdir / "input", if_match=manifest.get("inputETag"))  # type: ignore[union-attr]
            downloaded = time.perf_counter()
            out_dir = workdir / "out"

            def viewable(files: list[dict]) -> None:
                # the 3D viewer's files go up while the engine writes the rest: the web app
                # shows the result that much sooner (advisory: the final upload retries them)
                try:
                    uploaded = upload_files(out_dir, files, output)
                    early.update((entry["name"], entry) for entry in uploaded)
                    progress.publish_files(uploaded)
                except Exception:  # noqa: BLE001
                    log.warning("job %s: publishing the viewer's files early failed", job_id, exc_info=True)

            # a child the server can stop: past its deadline or memory it fails, the lock is freed
            summary = run_job_process(task, scan, out_dir, options, work_dir=workdir, progress=progress,
                                      viewable=viewable)
            processed = time.perf_counter()
            # the final stages are the server's: the engine stops at its last written file
            progress("packaging", 99)
            rest = upload_files(out_dir, [f for f in summary["files"] if f["name"] not in early], output)
            uploaded = {**early, **{entry["name"]: entry for entry in rest}}
            summary["files"] = [uploaded[f["name"]] for f in summary["files"]]
            summary["jobId"] = job_id
            progress("done", 100)
            log.info("job %s (%s) done in %.2f s: download %.2f s, engine %.2f s, upload %.2f s", job_id, task,
                     time.perf_counter() - started, downloaded - started, processed - downloaded,
                     time.perf_counter() - processed)
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
        delete_objects(output.bucket, [entry["key"] for entry in early.values()])  # no partial results
    except Exception:  # noqa: BLE001
        log.warning("job %s: removing the files published early failed", job_id, exc_info=True)
    try:
        put_json(output.child("progress.json"), {"jobId": job_id, "stage": "failed", "percent": 100, "error": body["error"]})
    except Exception:  # noqa: BLE001
        log.warning("job %s: recording the failure failed", job_id, exc_info=True)
    return status, body


def create_app() -> FastAPI:
    # /ping answers from a ready flag at once; the models load in the background (readiness.py).
    readiness = Readiness(load=engine_status, on_ready=lambda status: publish_capabilities(status["segmentation"]))
    app = FastAPI(title="IRIS Oculus inference server", version=__version__, lifespan=readiness.lifespan)
    app.state.readiness = readiness

    @app.get("/ping")
    async def ping() -> JSONResponse:  # on the event loop: no worker-thread hop while the models load
        status, body = readiness.ping()
        return JSONResponse(body, status)

    @app.get("/model-info")
    def model_info() -> JSONResponse:
        try:
            versions = classifier_versions()
        except OculusError as exc:
            return JSONResponse({"ok": False, "error": exc.to_dict()}, 503)
        return JSONResponse({"ok": True, "default": versions["default"], "versions": versions["versions"]})

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
    if os.environ.get("OCULUS_JOB_WARM_SPARE", "1") != "0":
        keep_spare_warm()  # each job starts in a child that has done its imports (~3 s)
    uvicorn.run(
        create_app(),
        # The container sets OCULUS_HOST=0.0.0.0 (SageMaker connects from outside); a laptop
        # never listens beyond loopback.
        host=host or os.environ.get("OCULUS_HOST", "127.0.0.1"),
        port=int(port or os.environ.get("SAGEMAKER_BIND_TO_PORT", 8080)),
        log_level="info",
    )
