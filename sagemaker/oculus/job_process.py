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

The server keeps one spare child warm (``keep_spare_warm``): spawned after the previous job,
it has imported the tasks' libraries (torch, nibabel, scipy, ...) before its job arrives, so a
job does not wait seconds for imports; it still runs one job and exits.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.util
import os
import queue
import resource
import shutil
import signal
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .errors import EngineCrashedError, JobTimeoutError, OculusError
from .progress import Viewable

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
                    viewable: Viewable | None = None,
                    timeout_s: float | None = None, memory_limit: int | None = None) -> dict:
    """Run ``tasks.run_task`` in a child (the warm spare, if one waits: ``keep_spare_warm``);
    its summary, or its error re-raised here. ``viewable``: ``JobContext.viewable``, called here
    (the child sends the entries over)."""
    timeout_s = job_timeout_s() if timeout_s is None else timeout_s
    memory_limit = job_memory_limit_bytes() if memory_limit is None else memory_limit
    job = (task, str(source), str(out_dir), dict(options), str(work_dir))
    child = None
    try:
        child = _child_with(job, memory_limit)
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise JobTimeoutError(
                    f"the job ran past its {timeout_s:g} s deadline and was stopped; try a smaller scan "
                    "or the fast mode", code="timeout",
                )
            if not child.answers.poll(min(left, 1.0)):
                # ended with nothing left to read, yet no EOF: a process it forked (a meshing
                # worker, the OBJ's writer) still holds the pipe's sending end
                if child.process.exitcode is not None and not child.answers.poll(0):
                    raise _crashed(child)
                continue
            try:
                message = child.answers.recv()
            except EOFError:
                child.process.join(5)
                raise _crashed(child) from None
            kind = message[0]
            if kind == "progress":
                progress(message[1], message[2])
            elif kind == "viewable":
                if viewable is not None:
                    viewable(message[1])
            elif kind == "done":
                return message[1]
            else:
                _, code, text, status = message
                error = OculusError(text, code=code)
                error.http_status = status
                raise error
    except BaseException:
        if child is not None:
            child.close()  # first: a job still running (or its writer) could write into out_dir again
            child = None
        shutil.rmtree(out_dir, ignore_errors=True)  # partial outputs never reach the results
        raise
    finally:
        if child is not None:
            child.close()
        _spares.replenish(memory_limit)


def _crashed(child: _Child) -> EngineCrashedError:
    return EngineCrashedError(
        f"the engine process ended without an answer (exit {child.process.exitcode}); the job was "
        "not finished", code="engine_crashed",
    )


def _child_with(job: tuple, memory_limit: int) -> _Child:
    """The warm spare with ``job`` sent to it, else a fresh child with it."""
    spare = _spares.take(memory_limit)
    if spare is not None:
        try:
            spare.jobs.send(job)
            return spare
        except OSError:  # it died since it was checked: start cold
            spare.close()
    child = _Child(memory_limit, preload=False)
    try:
        child.jobs.send(job)
    except BaseException:
        child.close()
        raise
    return child


class _Child:
    """A spawned job process: it receives one job on ``jobs`` and answers on ``answers``.

    Spawned, not forked (torch and onnxruntime thread pools do not survive a fork). A spare
    (``preload``) imports what the tasks need before its job comes: about 3 s of a job on a
    2-core machine (torch alone 2 s, imported to check TotalSegmentator's weights).
    """

    def __init__(self, memory_limit: int, *, preload: bool) -> None:
        context = multiprocessing.get_context("spawn")
        job_end, self.jobs = context.Pipe(duplex=False)
        self.answers, answer_end = context.Pipe(duplex=False)
        self.memory_limit = memory_limit
        self.environment = dict(os.environ)
        self.process = context.Process(target=_child_main, name="oculus-job",
                                       args=(job_end, answer_end, memory_limit, preload))
        self.process.start()
        job_end.close()
        answer_end.close()  # the child holds the only writer: EOF here means it is gone

    def fits(self, memory_limit: int) -> bool:
        """Alive, under the same limit, and started with the environment a fresh child would get."""
        return self.process.is_alive() and self.memory_limit == memory_limit and self.environment == dict(os.environ)

    def close(self) -> None:
        self.jobs.close()  # a spare still waiting for its job exits on EOF
        _kill_group(self.process)
        if self.process.is_alive():  # not yet a group leader (still starting): kill it alone
            self.process.kill()
        self.process.join(10)
        self.answers.close()


class _Spares:
    """At most one warm spare child, started from one long-lived thread: the kernel's
    parent-death signal (``_die_with_parent``) follows the thread that started a child, and the
    server's job threads come and go."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spare: _Child | None = None
        self._wanted = False
        self._failures = 0
        self._requests: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def keep_warm(self, memory_limit: int | None = None) -> None:
        """From now on keep a spare ready (the server: jobs start without import time)."""
        with self._lock:
            self._wanted = True
            if self._thread is None:
                # run by multiprocessing's own exit handler before it joins the children (an
                # idle spare would keep that join waiting for ever)
                multiprocessing.util.Finalize(None, self.close, exitpriority=100)
                self._thread = threading.Thread(target=self._start_spares, name="oculus-job-spares", daemon=True)
                self._thread.start()
        self.replenish(job_memory_limit_bytes() if memory_limit is None else memory_limit)

    def take(self, memory_limit: int) -> _Child | None:
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None and not spare.fits(memory_limit):
            if spare.process.exitcode == PRELOAD_FAILED:
                self._failures += 1
                if self._failures >= MAX_PRELOAD_FAILURES:  # it would fail again: stop trying
                    log.warning("spare job processes keep failing to preload; jobs start cold")
                    self._wanted = False
            spare.close()
            return None
        return spare

    def close(self) -> None:
        """No more spares: the waiting one is stopped, one being started is stopped once up."""
        with self._lock:
            self._wanted = False
            spare, self._spare = self._spare, None
        if spare is not None:
            spare.close()

    def replenish(self, memory_limit: int) -> None:
        if self._wanted:
            self._requests.put(memory_limit)

    def _start_spares(self) -> None:
        while True:
            memory_limit = self._requests.get()
            with self._lock:
                if not self._wanted or (self._spare is not None and self._spare.fits(memory_limit)):
                    continue
                stale, self._spare = self._spare, None
            if stale is not None:
                stale.close()
            try:
                spare = _Child(memory_limit, preload=True)
            except OSError:
                log.warning("could not start a spare job process; jobs start cold", exc_info=True)
                continue
            with self._lock:
                if self._wanted:
                    spare, self._spare = None, spare
            if spare is not None:  # closed while it started
                spare.close()


#: A spare that cannot preload exits with this code; after this many, no more spares.
PRELOAD_FAILED = 3
MAX_PRELOAD_FAILURES = 3

_spares = _Spares()
keep_spare_warm = _spares.keep_warm


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


#: A spare's imports run at this niceness (the lowest priority).
PRELOAD_NICENESS = 19


def _preload_quietly(jobs=None) -> None:
    """``tasks.preload`` on a thread of the lowest CPU priority (Linux niceness is per thread).

    A spare starts when a job ends, just when the user's browser draws the scene that job
    published; on a laptop running everything, its ~3 s of imports (torch) took the cores that
    drawing needed. At the lowest priority it takes only idle time; the job itself then runs on
    this (main) thread, and its workers, at the server's own priority. A job that arrives
    before the imports are done puts them back to normal priority where the OS allows it
    (``jobs``: the spare's job pipe, only looked at, not read).
    """
    failed: list[BaseException] = []

    def run() -> None:
        _set_thread_niceness(threading.get_native_id(), PRELOAD_NICENESS)
        try:
            from .tasks import preload as preload_tasks

            preload_tasks()
        except BaseException as exc:  # noqa: BLE001 - raised again on the main thread
            failed.append(exc)

    thread = threading.Thread(target=run, name="oculus-preload")
    thread.start()
    if jobs is not None:
        while thread.is_alive():
            if jobs.poll(0.1):  # a job (or EOF) waits: the imports are its own now
                _set_thread_niceness(thread.native_id, os.getpriority(os.PRIO_PROCESS, 0))
                break
    thread.join()
    if failed:
        raise failed[0]


#: Once a job's 3D scene is out, the rest of its files are written at this niceness.
AFTER_VIEWABLE_NICENESS = 10


def _yield_to_the_viewer() -> None:
    """Every thread of this one-job process, and every process it forked that is still running
    (the OBJ's writer, ``outputs``), at ``AFTER_VIEWABLE_NICENESS`` (never raised).

    The scene the job just published is what its user waits for, and on a laptop running
    everything that browser draws it on the same cores; the OBJ, preview and ZIP still being
    written can wait for idle time. Alone on a machine (SageMaker) nothing changes.
    """
    try:
        threads = [int(name) for name in os.listdir("/proc/self/task")]
    except OSError:  # not Linux
        return
    # a forked writer is single-threaded: its pid is its one thread's id
    threads += [child.pid for child in multiprocessing.active_children() if child.pid is not None]
    for thread_id in threads:
        try:
            current = os.getpriority(os.PRIO_PROCESS, thread_id)
        except OSError:  # ended meanwhile
            continue
        _set_thread_niceness(thread_id, max(current, AFTER_VIEWABLE_NICENESS))


def _set_thread_niceness(thread_id: int, niceness: int) -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, thread_id, niceness)
    except (OSError, AttributeError):  # not Linux, or raising priority needs privileges
        pass


def _child_main(jobs, sender, memory_limit: int, preload: bool) -> None:
    os.setsid()  # a group of its own, so a kill reaches the workers it starts
    _die_with_parent()
    if memory_limit > 0:
        resource.setrlimit(resource.RLIMIT_DATA, (memory_limit, memory_limit))
    if preload:
        try:
            _preload_quietly(jobs)
        except BaseException:  # noqa: BLE001 - half-imported modules must not meet a job
            log.warning("preloading the job's modules failed; jobs start cold:\n%s", traceback.format_exc())
            os._exit(PRELOAD_FAILED)
    try:
        task, source, out_dir, options, work_dir = jobs.recv()
    except EOFError:  # a spare the server no longer needs
        return
    from .tasks import JobContext, run_task

    def progress(stage: str, percent: float) -> None:
        sender.send(("progress", stage, float(percent)))

    def viewable(files: list[dict]) -> None:
        sender.send(("viewable", files))
        _yield_to_the_viewer()

    try:
        context = JobContext(progress=progress, work_dir=Path(work_dir), viewable=viewable)
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
