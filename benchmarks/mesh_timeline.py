"""Where one ``oculus mesh`` spends its wall time: a time stamp at each stage, per thread.

Runs the same code path as ``oculus mesh LABEL_MAP -o OUT [flags]`` in this process (the CLI's
garbage-collector settings, its task table, its options) and prints, from the moment the
interpreter reached this script, when the imports finished, when the label map was read and its
bounding boxes found (on the loading thread), when the mesher's and writers' imports finished
(on the main thread, beside the load) and when each progress stage began; then the engine's own
stage timings. Not a benchmark (no baseline, one run): the map of where the next speed-up is.

    .venv/bin/python benchmarks/mesh_timeline.py LABEL_MAP OUT [--reduction-percent 90]

``bench_meshing.py`` writes the benchmark's label map; ``ab_mesh_cli.py`` judges a change.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import gc  # noqa: E402 - the clock starts before anything is imported
import sys  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sagemaker"))


def stamp(what: str) -> None:
    print(f"{time.perf_counter() - STARTED:6.3f} s  {threading.current_thread().name:10s} {what}", flush=True)


def main(argv: list[str]) -> None:
    from oculus import cli, pipeline, results
    from oculus.segment.labels import LabelsEngine

    gc.set_threshold(*cli.ONE_SHOT_GC_THRESHOLDS)
    stamp("imports of the CLI done")
    import_writers = results.import_writers

    def timed_imports() -> None:
        stamp("mesher and writers: imports start")
        import_writers()
        stamp("mesher and writers: imports done")

    pipeline.import_writers = timed_imports  # the name pipeline calls while the map loads
    from_file = LabelsEngine.from_file.__func__

    def timed_from_file(cls, *args, **kwargs):
        stamp("load start")
        engine = from_file(cls, *args, **kwargs)
        stamp("file read")
        _ = engine.boxes
        stamp("bounding boxes found")
        return engine

    LabelsEngine.from_file = classmethod(timed_from_file)
    from oculus.options import cli_options
    from oculus.tasks import JobContext, run_task

    args = cli._build_parser().parse_args(["mesh", *argv])
    seen: list[str] = []

    def progress(stage: str, _percent: float, *_args, **_kwargs) -> None:
        if not seen or seen[-1] != stage:
            seen.append(stage)
            stamp(f"stage {stage}")

    summary = run_task("mesh", args.label_map, args.output, cli_options(args), JobContext(progress=progress))
    stamp("done")
    print("engine timings (s):", summary.get("timings"))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    label_map, out, *flags = sys.argv[1:]
    main([label_map, "-o", out, *flags])
