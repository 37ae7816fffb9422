"""A warm spare imports the tasks' libraries at the lowest CPU priority (oculus.job_process)."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import time

import pytest

from oculus import job_process, tasks

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is Linux's")


def _niceness_of_this_thread() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_the_imports_run_at_the_lowest_priority_and_the_job_thread_keeps_its_own(monkeypatch):
    seen = []
    monkeypatch.setattr(tasks, "preload", lambda: seen.append(_niceness_of_this_thread()))
    before = _niceness_of_this_thread()
    job_process._preload_quietly()
    assert seen == [job_process.PRELOAD_NICENESS]
    assert _niceness_of_this_thread() == before  # the job runs on this thread, at its priority


def test_a_job_that_arrives_during_the_imports_takes_their_priority_back(monkeypatch):
    if os.geteuid() != 0 and os.getpriority(os.PRIO_PROCESS, 0) < job_process.PRELOAD_NICENESS:
        pytest.skip("raising a thread's priority needs privileges here")
    seen = []

    def slow_preload():
        deadline = time.monotonic() + 0.5  # the job below is already waiting when this ends
        while time.monotonic() < deadline:
            time.sleep(0.01)
        seen.append(_niceness_of_this_thread())

    monkeypatch.setattr(tasks, "preload", slow_preload)
    receive, send = multiprocessing.Pipe(duplex=False)
    send.send("a job")
    job_process._preload_quietly(receive)
    assert seen == [_niceness_of_this_thread()]
    assert receive.recv() == "a job"  # only looked at, still there for the job to read


def test_a_failed_import_is_raised_on_the_calling_thread(monkeypatch):
    def broken():
        raise ImportError("no such module")

    monkeypatch.setattr(tasks, "preload", broken)
    with pytest.raises(ImportError, match="no such module"):
        job_process._preload_quietly()


def test_once_the_scene_is_out_every_thread_of_the_job_process_and_its_writer_yields():
    # in a process of its own: the niceness cannot be taken back. The forked process stands
    # for the OBJ's writer (outputs._apart), still writing when the scene is out
    script = (
        "import multiprocessing, os, threading\n"
        "from oculus import job_process\n"
        "started, stop, ids = threading.Event(), threading.Event(), []\n"
        "def other():\n"
        "    ids.append(threading.get_native_id()); started.set(); stop.wait()\n"
        "t = threading.Thread(target=other); t.start(); started.wait()\n"
        "writer = multiprocessing.get_context('fork').Process(target=__import__('time').sleep, args=(30,))\n"
        "writer.start()\n"
        "job_process._yield_to_the_viewer()\n"
        "print(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), os.getpriority(os.PRIO_PROCESS, ids[0]),\n"
        "      os.getpriority(os.PRIO_PROCESS, writer.pid))\n"
        "writer.kill(); writer.join(); stop.set(); t.join()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    main, other, writer = (int(v) for v in done.stdout.split())
    assert main >= job_process.AFTER_VIEWABLE_NICENESS
    assert other >= job_process.AFTER_VIEWABLE_NICENESS
    assert writer >= job_process.AFTER_VIEWABLE_NICENESS
