"""One job in a child process the server can stop: a hard deadline and a memory limit.

The server must outlive any job: a scan that runs past SageMaker's invocation timeout, or
takes more memory than the instance has, must not keep the job lock or write late results for
a job the backend already failed. So each task runs in a fresh (spawned, not forked: torch and
onnxruntime thread pools do not survive a fork) child process that

- has a data-segment limit (``RLIMIT_DATA``: the heap and private writable mappings, not the
  GPU driver's address-space reservations, which ``RLIMIT_AS`` would count) of
  ``OCULUS_JOB_MEMORY_LIMIT_BYTES`` (default: 85 % of what this process may use; ``0`` = none),
  so it fails with ``out_of_memory`` instead of the kernel killing the whole server;
- sends its progress over a pipe (the server publishes it) and its summary or error at the end;
- is killed at ``OCULUS_JOB_TIMEOUT_S`` (default 3300 s, under SageMaker's 3600 s invocation
  limit so the failure is the engine's own and arrives in time), its partial outputs removed,
  and the job fails with ``timeout``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import shutil
import signal
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .errors import EngineCrashedError, JobTimeoutError, OculusError

log = logging.getLogger("oculus.job")

DEFAULT_TIMEOUT_S = 3300.0
_MEMORY_SHARE = 0.85


def job_timeout_s() -> float:
    return float(os.environ.get("OCULUS_JOB_TIMEOUT_S", DEFAULT_TIMEOUT_S))


def job_memory_limit_bytes() -> int:
    configured = os.environ.get("OCULUS_JOB_MEMORY_LIMIT_BYTES")
    if configured is not None:
        return int(configured)
    from .io.budget import memory_limit_bytes

    return int(memory_limit_bytes() * _MEMORY_SHARE)


def run_job_process(task: str, source: Path, out_dir: Path, options: Mapping[str, Any], *,
                    work_dir: Path, progress: Callable[[str, float], None],
                    timeout_s: float | None = None, memory_limit: int | None = None) -> dict:
    """Run ``tasks.run_task`` in a child; its summary, or its error re-raised here."""
    timeout_s = job_timeout_s() if timeout_s is None else timeout_s
    memory_limit = job_memory_limit_bytes() if memory_limit is None else memory_limit
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_child_main, name=f"oculus-job-{task}",
        args=(sender, task, str(source), str(out_dir), dict(options), str(work_dir), memory_limit),
    )
    deadline = time.monotonic() + timeout_s
    child.start()
    sender.close()  # the child holds the only writer: EOF here means it is gone
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise JobTimeoutError(
                    f"the job ran past its {timeout_s:g} s deadline and was stopped; try a smaller scan "
                    "or the fast mode", code="timeout",
                )
            if not receiver.poll(min(left, 1.0)):
                continue
            try:
                message = receiver.recv()
            except EOFError:
                child.join(5)
                raise EngineCrashedError(
                    f"the engine process ended without an answer (exit {child.exitcode}); the job was "
                    "not finished", code="engine_crashed",
                ) from None
            kind = message[0]
            if kind == "progress":
                progress(message[1], message[2])
            elif kind == "done":
                return message[1]
            else:
                _, code, text, status = message
                error = OculusError(text, code=code)
                error.http_status = status
                raise error
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)  # partial outputs never reach the results
        raise
    finally:
        _kill_group(child)
        child.join(10)
        receiver.close()


def _die_with_parent() -> None:
    """Linux: the kernel kills this job if the server dies (its own session escapes the server's
    process group, so a supervisor's kill of that group would not reach it)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the job ends when it next reports
        pass


_PR_SET_PDEATHSIG = 1


def _kill_group(child) -> None:
    """The child leads its own process group: its workers (the mesher's pool) die with it."""
    if child.pid is None:
        return
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _child_main(sender, task: str, source: str, out_dir: str, options: dict, work_dir: str,
                memory_limit: int) -> None:
    os.setsid()  # a group of its own, so a kill reaches the workers it starts
    _die_with_parent()
    if memory_limit > 0:
        resource.setrlimit(resource.RLIMIT_DATA, (memory_limit, memory_limit))
    from .tasks import JobContext, run_task

    def progress(stage: str, percent: float) -> None:
        sender.send(("progress", stage, float(percent)))

    try:
        context = JobContext(progress=progress, work_dir=Path(work_dir))
        sender.send(("done", run_task(task, Path(source), Path(out_dir), options, context)))
    except OculusError as exc:
        sender.send(("error", exc.code, exc.message, exc.http_status))
    except MemoryError:
        sender.send(("error", "out_of_memory", "the scan needs more memory than this engine may use; "
                     "upload a smaller or downsampled scan", 507))
    except Exception:  # noqa: BLE001 - a bug fails the job with its trace in the logs
        log.error("job task %s crashed:\n%s", task, traceback.format_exc())
        sender.send(("error", "internal_error", "the engine failed unexpectedly; the team has the logs", 500))
    finally:
        sender.close()
