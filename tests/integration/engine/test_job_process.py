"""A job runs in a child process with a deadline and a memory limit (oculus.job_process)."""

from __future__ import annotations

import time

import pytest

from oculus.job_process import run_job_process


def test_a_job_returns_its_summary_and_progress_from_the_child(shared_data, tmp_path):
    stages = []
    summary = run_job_process("mesh", shared_data / "ct" / "example_seg.nii.gz", tmp_path / "out",
                              {"reduction_percent": 95}, work_dir=tmp_path,
                              progress=lambda stage, percent: stages.append(stage))
    assert {f["name"] for f in summary["files"]} <= {p.name for p in (tmp_path / "out").iterdir()}
    assert "meshing" in stages


def test_a_job_past_its_deadline_is_killed_and_its_outputs_removed(shared_data, tmp_path):
    out = tmp_path / "out"

    def slow_progress(*_):
        # partial outputs exist, and the deadline passes whatever the machine's speed (the parent
        # checks the deadline before it reads the child's next message)
        out.mkdir(exist_ok=True)
        time.sleep(3.5)

    with pytest.raises(Exception) as caught:
        run_job_process("mesh", shared_data / "ct" / "example_seg.nii.gz", out, {}, work_dir=tmp_path,
                        progress=slow_progress, timeout_s=3)
    assert caught.value.code == "timeout"
    assert not out.exists()


def test_a_job_over_its_memory_limit_fails_with_a_code_and_the_caller_lives(shared_data, tmp_path):
    with pytest.raises(Exception) as caught:
        run_job_process("totalseg", shared_data / "ct" / "example_ct.nii.gz", tmp_path / "out",
                        {"engine": "threshold"}, work_dir=tmp_path, progress=lambda *_: None,
                        memory_limit=400 * 1024**2)
    assert caught.value.code in ("out_of_memory", "scan_too_large")


def test_an_input_error_in_the_child_keeps_its_code(tmp_path):
    bogus = tmp_path / "notes.nii.gz"
    bogus.write_text("not a scan")
    with pytest.raises(Exception) as caught:
        run_job_process("totalseg", bogus, tmp_path / "out", {}, work_dir=tmp_path, progress=lambda *_: None)
    assert caught.value.code == "not_a_scan"
    assert caught.value.http_status == 422


def _ready_spare(spares, timeout_s=120.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        spare = spares._spare
        if spare is not None and spare.process.is_alive():
            return spare
        time.sleep(0.1)
    raise AssertionError("no spare job process started")


def test_the_warm_spare_runs_the_next_job_and_a_new_one_is_started(shared_data, tmp_path, monkeypatch):
    from oculus import job_process

    spares = job_process._Spares()
    monkeypatch.setattr(job_process, "_spares", spares)
    cold_starts = []
    real_child = job_process._Child

    def counting_child(memory_limit, *, preload):
        if not preload:
            cold_starts.append(memory_limit)
        return real_child(memory_limit, preload=preload)

    monkeypatch.setattr(job_process, "_Child", counting_child)
    try:
        spares.keep_warm(memory_limit=0)
        first = _ready_spare(spares)
        summary = run_job_process("mesh", shared_data / "ct" / "example_seg.nii.gz", tmp_path / "out",
                                  {"reduction_percent": 95}, work_dir=tmp_path, progress=lambda *_: None,
                                  memory_limit=0)
        assert summary["files"] and cold_starts == []  # the spare ran it
        second = _ready_spare(spares)
        assert second.process.pid != first.process.pid and not first.process.is_alive()

        # a spare started under another environment is not used: a fresh child gets the new one
        monkeypatch.setenv("OCULUS_TEST_MARKER", "changed")
        with pytest.raises(Exception) as caught:
            run_job_process("totalseg", tmp_path / "missing.nii.gz", tmp_path / "out2", {},
                            work_dir=tmp_path, progress=lambda *_: None, memory_limit=0)
        assert caught.value.code != "internal_error"
        assert cold_starts == [0] and not second.process.is_alive()
    finally:
        spares.close()


def test_a_process_keeping_a_spare_exits_without_waiting_for_it(tmp_path):
    import subprocess
    import sys

    # the spare waits for a job and multiprocessing's exit handler joins children: the spare is
    # stopped first, so the process exits at once and leaves nothing behind
    script = ("import time\nfrom oculus import job_process\njob_process.keep_spare_warm(0)\n"
              "deadline = time.monotonic() + 60\n"
              "while job_process._spares._spare is None and time.monotonic() < deadline:\n"
              "    time.sleep(0.1)\nprint(job_process._spares._spare.process.pid)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=90, check=True)
    pid = int(done.stdout.split()[-1])
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(pid, 0)  # the spare is gone with its parent


def test_a_job_process_that_dies_while_a_process_it_forked_holds_its_pipe_is_reported_at_once(
        tmp_path, monkeypatch):
    # the job process forks the mesher's workers and the OBJ's writer; they inherit its answer
    # pipe, so its death alone gives the server no EOF: its exit code must be enough
    import multiprocessing
    import os

    from oculus import job_process
    from oculus.errors import EngineCrashedError

    fork = multiprocessing.get_context("fork")
    answers, answer_end = fork.Pipe(duplex=False)
    writer = fork.Process(target=time.sleep, args=(60,))  # holds answer_end, as a forked writer does
    writer.start()
    job = fork.Process(target=os._exit, args=(9,))  # a native crash mid-export
    job.start()
    job.join()
    answer_end.close()

    class Crashed:
        process = job

        def __init__(self):
            self.answers = answers

        def close(self):
            writer.kill()
            writer.join()
            answers.close()

    monkeypatch.setattr(job_process, "_child_with", lambda _job, _limit: Crashed())
    started = time.monotonic()
    with pytest.raises(EngineCrashedError) as caught:
        run_job_process("mesh", tmp_path / "labels.nii.gz", tmp_path / "out", {}, work_dir=tmp_path,
                        progress=lambda *_: None, timeout_s=60, memory_limit=0)
    assert caught.value.code == "engine_crashed" and "exit 9" in caught.value.message
    assert time.monotonic() - started < 10  # not the 60 s deadline
    assert not writer.is_alive()
