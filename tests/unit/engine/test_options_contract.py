"""The API's request models (the Lambda layer, pydantic) against the engine's options and task
table: every option the API accepts is one the engine reads, with the same default and the same
allowed values, and every job task the API sends has a handler."""

from __future__ import annotations

import sys
import typing
from pathlib import Path

import annotated_types
import pytest

from oculus.capabilities import OFFERED_TASKS
from oculus.errors import InputError
from oculus.options import ProcessOptions, check, option_fields
from oculus.tasks import TASKS

LAYER = Path(__file__).resolve().parents[3] / "layers" / "shared" / "python"
if str(LAYER) not in sys.path:
    sys.path.insert(0, str(LAYER))

from oculus_shared.jobs import Task  # noqa: E402
from oculus_shared.models import TotalsegRequest  # noqa: E402

ENGINE = {spec.name: spec for spec in option_fields()}
API = {name: info for name, info in TotalsegRequest.model_fields.items() if name != "jobId"}


def _bounds(info) -> tuple[int | None, int | None]:
    low = next((m.ge for m in info.metadata if isinstance(m, annotated_types.Ge)), None)
    high = next((m.le for m in info.metadata if isinstance(m, annotated_types.Le)), None)
    return low, high


def _literal_values(annotation) -> tuple | None:
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    return None


def test_every_api_option_is_an_engine_option():
    assert set(API) <= set(ENGINE), set(API) - set(ENGINE)
    assert API  # the comparison below means something only if there is something to compare


@pytest.mark.parametrize("name", sorted(API))
def test_same_default(name):
    api_default = API[name].default
    engine_default = ENGINE[name].default
    if isinstance(engine_default, tuple):
        engine_default = list(engine_default)
    assert api_default == engine_default


@pytest.mark.parametrize("name", sorted(API))
def test_same_allowed_values(name):
    meta = ENGINE[name].metadata
    offered = _literal_values(API[name].annotation)
    if meta["choices"] is None and offered is not None:
        # a free-form engine option (any TotalSegmentator task) that the API narrows to what it offers
        assert all(check(ENGINE[name], value) == value for value in offered)
    else:
        assert offered == meta["choices"]
    if meta["kind"] is int:
        assert _bounds(API[name]) == meta["bounds"]


def test_the_request_the_api_builds_is_accepted_unchanged_by_the_engine():
    request = TotalsegRequest(jobId="a" * 32, totalseg_task="total_mr", device="cpu", fast=True, reduction_percent=75,
                              roi_subset=["spleen", "liver"], stl=True, smoothing=False, engine="threshold")
    options = ProcessOptions.from_mapping(request.options())
    for name, value in request.options().items():
        engine_value = getattr(options, name)
        assert (list(engine_value) if isinstance(engine_value, tuple) else engine_value) == value, name
    defaults = ProcessOptions.from_mapping(TotalsegRequest(jobId="a" * 32).options())
    assert defaults == ProcessOptions()


@pytest.mark.parametrize("bad", [{"reduction_percent": 100}, {"reduction_percent": -1}, {"device": "tpu"},
                                 {"engine": "magic"}, {"fast": "true"}, {"roi_subset": "liver"}])
def test_what_the_api_refuses_the_engine_refuses_too(bad):
    with pytest.raises(Exception):  # noqa: B017 - pydantic's ValidationError
        TotalsegRequest(**{"jobId": "a" * 32, **bad})
    with pytest.raises(InputError) as error:
        ProcessOptions.from_mapping(bad)
    assert error.value.code == "invalid_options"
    assert next(iter(bad)) in error.value.message


def test_the_api_offers_the_totalsegmentator_tasks_the_engine_publishes():
    from oculus.segment.totalseg import task_class_names

    assert _literal_values(API["totalseg_task"].annotation) == OFFERED_TASKS
    assert all(task_class_names(task) for task in OFFERED_TASKS)


def test_every_job_task_the_api_sends_has_a_handler():
    assert {task.value for task in Task} <= set(TASKS)


def test_the_old_manifest_key_for_the_totalsegmentator_task_still_works():
    assert ProcessOptions.from_mapping({"task": "total_mr"}).totalseg_task == "total_mr"
    assert ProcessOptions.from_mapping({"totalseg_task": "total_mr"}).segment_options().task == "total_mr"


def _cli(*argv: str) -> ProcessOptions:
    from oculus.cli import _build_parser
    from oculus.options import cli_options

    return ProcessOptions.from_mapping(cli_options(_build_parser().parse_args(argv)))


def test_the_cli_builds_the_same_options_as_a_manifest():
    argv = ["process", "ct.nii.gz", "-o", "out", "--engine", "threshold", "--task", "total_mr", "--fast",
            "--roi-subset", "liver", "spleen", "--device", "gpu", "--reduction-percent", "80", "--no-smoothing", "--stl"]
    assert _cli(*argv) == ProcessOptions.from_mapping({
        "engine": "threshold", "totalseg_task": "total_mr", "fast": True, "roi_subset": ["liver", "spleen"],
        "device": "gpu", "reduction_percent": 80, "smoothing": False, "stl": True,
    })
    # a laptop's CLI runs on the CPU unless told otherwise; a job's default is the GPU
    assert _cli("mesh", "seg.nii.gz", "-o", "out") == ProcessOptions(device="cpu")


@pytest.mark.parametrize("argv", [["--reduction-percent", "100"], ["--reduction-percent", "x"], ["--engine", "magic"]])
def test_the_cli_refuses_what_a_manifest_refuses(argv, capsys):
    from oculus.cli import _build_parser

    with pytest.raises(SystemExit) as exit_:
        _build_parser().parse_args(["process", "ct.nii.gz", "-o", "out", *argv])
    assert exit_.value.code == 2 and argv[0].lstrip("-").replace("-", "_") in capsys.readouterr().err.replace("-", "_")


def test_a_classify_request_names_a_model_version_the_engine_reads_with_the_same_pattern():
    from oculus.options import MODEL_VERSION_PATTERN, ClassifyOptions
    from oculus_shared.model_versions import MODEL_VERSION_PATTERN as API_PATTERN
    from oculus_shared.models import ClassifyRequest

    assert API_PATTERN == MODEL_VERSION_PATTERN
    assert set(ClassifyRequest.model_fields) == {"jobId", "modelVersion"}
    request = ClassifyRequest(jobId="a" * 32, modelVersion="v2")
    assert ClassifyOptions.from_mapping(request.options()).model_version == "v2"
    assert ClassifyOptions.from_mapping(ClassifyRequest(jobId="a" * 32).options()) == ClassifyOptions()
    for bad in ("../v1", "", "v 2"):
        with pytest.raises(Exception):  # noqa: B017 - pydantic's ValidationError
            ClassifyRequest(jobId="a" * 32, modelVersion=bad)
        with pytest.raises(InputError):
            ClassifyOptions.from_mapping({"modelVersion": bad})
