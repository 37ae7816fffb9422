"""The ``oculus`` command line.

Exit codes: 0 success; 1 unexpected internal error; 2 usage error; 3 the input cannot be used
(bad scan, unsafe archive, ...; also ``classify`` when no image could be answered); 4 an engine or
model is unavailable here; 5 some images of a ``classify`` batch failed (the others were answered).
"""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import NoReturn

from . import __version__
from .errors import EngineUnavailableError, OculusError
from .options import MESH, SEGMENT, add_cli_flags

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_INPUT, EXIT_UNAVAILABLE, EXIT_PARTIAL = 0, 1, 2, 3, 4, 5


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oculus", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"oculus {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def output_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
        p.add_argument("--json", action="store_true", help="print the summary as JSON")

    # the option flags come from oculus.options, the one definition a manifest uses too
    process = sub.add_parser("process", help="segment a CT/MR scan and build meshes, report and ZIP")
    process.add_argument("scan", type=Path, help="NIfTI file, DICOM folder/.zip or multi-frame DICOM")
    add_cli_flags(process, SEGMENT)
    output_flags(process)

    mesh = sub.add_parser("mesh", help="mesh a label map you already have")
    mesh.add_argument("label_map", type=Path)
    mesh.add_argument("--scan", type=Path, help="the scan the label map belongs to (for intensity stats)")
    add_cli_flags(mesh, MESH)
    output_flags(mesh)

    classify = sub.add_parser("classify", help="classify brain-MRI slices (JPEG/PNG/DICOM)")
    classify.add_argument("images", type=Path, nargs="+")
    classify.add_argument("--json", action="store_true", help="one JSON object per line, in order")
    which = classify.add_mutually_exclusive_group()
    which.add_argument("--model", type=Path, help="a model card (default: the shipped default version)")
    which.add_argument("--model-version", help="a shipped model version, e.g. v1 (default: the default version)")

    serve = sub.add_parser("serve", help="run the inference server (/ping, /invocations)")
    serve.add_argument("--host", default=None, help="default 127.0.0.1 (OCULUS_HOST overrides)")
    serve.add_argument("--port", type=int, default=None, help="default 8080")
    return parser


class _Bar:
    """A tqdm progress bar on stderr fed by (stage, percent) callbacks."""

    def __init__(self, enabled: bool) -> None:
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=100, unit="%", file=sys.stderr, bar_format="{desc:<12} {bar} {n:.0f}% [{elapsed}]")

    def __call__(self, stage: str, percent: float) -> None:
        if self.bar is not None:
            self.bar.set_description_str(stage)
            self.bar.n = percent
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _print_summary(summary: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary))
        return
    engine = summary["engine"]
    result = summary.get("result", {})
    print(f"engine: {engine['name']} {engine.get('version', '')}" + (" (DEGRADED)" if engine.get("degraded") else ""))
    if engine.get("note"):
        print(f"note:   {engine['note']}")
    print(f"structures: {result.get('structures')}  triangles: {result.get('triangles')}")
    for warning in result.get("warnings", []):
        print(f"warning: {warning}")
    for entry in summary.get("files", []):
        print(f"  {entry['name']:<32} {entry['size']:>12,d} B")


def _run(args: argparse.Namespace) -> int:
    from .options import cli_options
    from .pipeline import classify_images
    from .tasks import JobContext, run_task

    if args.command == "serve":
        from .server import serve

        serve(args.host, args.port)
        return EXIT_OK

    if args.command == "classify":
        from .classify import load_classifier, load_version
        from .options import ClassifyOptions

        if args.model:
            classifier = load_classifier(args.model)
        else:  # the same validation as a job's options.modelVersion
            classifier = load_version(ClassifyOptions.from_mapping({"modelVersion": args.model_version}).model_version)
        answers = classify_images(args.images, classifier)
        for answer in answers:
            if args.json:
                print(json.dumps(answer), flush=True)
            elif answer["ok"]:
                verdict = f"[{answer['verdict']}] " if answer.get("verdict") else ""
                print(f"{answer['image']}: {verdict}{answer['predicted_class']} ({answer['confidence']:.2f}, model "
                      f"{answer['model']['version']}) - {answer['recommendation']}")
            else:
                print(f"{answer['image']}: error {answer['error']['code']}: {answer['error']['message']}")
        if all(a["ok"] for a in answers):
            return EXIT_OK
        return EXIT_PARTIAL if any(a["ok"] for a in answers) else EXIT_INPUT  # nothing answered: the input

    # the same task table and options validation as the server's
    if args.command == "process":
        task, source, reference_scan = "totalseg", args.scan, None
    else:
        task, source, reference_scan = "mesh", args.label_map, args.scan
    bar = _Bar(enabled=not args.json and sys.stderr.isatty())
    try:
        context = JobContext(progress=bar, reference_scan=reference_scan)
        summary = run_task(task, source, args.output, cli_options(args), context)
    finally:
        bar.close()
    _print_summary(summary, args.json)
    return EXIT_OK


#: A one-shot run (``mesh``, ``process``, ``classify``) imports ~1,000 modules (numpy, scipy, VTK,
#: nibabel, pydicom) whose ~100 k objects live until the process ends; the collector's default
#: thresholds scan them again and again while they import and once more at exit: ~0.3 s of a
#: 3.5 s ``oculus mesh``. So, as mypy does, it collects rarely, and freezes what is left before
#: the process exits. ``serve``, long-lived, keeps the defaults.
ONE_SHOT_GC_THRESHOLDS = (200_000, 30, 30)


def main(argv: list[str] | None = None) -> int:
    """The process's entry point (it tunes the process's garbage collector for a one-shot run)."""
    args = _build_parser().parse_args(argv)
    one_shot = args.command != "serve"
    if one_shot:
        gc.set_threshold(*ONE_SHOT_GC_THRESHOLDS)
    try:
        return _run(args)
    except EngineUnavailableError as exc:
        _report_error(exc.to_dict(), getattr(args, "json", False))
        return EXIT_UNAVAILABLE
    except OculusError as exc:
        _report_error(exc.to_dict(), getattr(args, "json", False))
        return EXIT_INPUT
    except KeyboardInterrupt:
        return 130
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        return EXIT_INTERNAL
    finally:
        if one_shot:
            gc.freeze()  # the process ends next: nothing for a last scan over every object


def _report_error(error: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"ok": False, "error": error}))
    else:
        print(f"error [{error['code']}]: {error['message']}", file=sys.stderr)


def entry() -> NoReturn:
    """The ``oculus`` console script: ``main``, then the process ends without the interpreter's
    teardown.

    Every file is written and every pool shut down when ``main`` returns; what is left is
    freeing each module and array one by one, 0.09-0.11 s of a 3 s ``oculus mesh``. The exit
    handlers still run (``weakref.finalize`` and ``atexit`` registrations) and the standard
    streams are flushed, as in a normal exit. Tests call ``main``, which returns.
    """
    code = main()
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)  # a normal exit joins such a thread: os._exit would cut it off
    atexit._run_exitfuncs()  # noqa: SLF001 - the handlers a normal exit runs, then no teardown
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # as CPython: output lost at exit (a full disk) is exit status 120
            code = code or 120
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
