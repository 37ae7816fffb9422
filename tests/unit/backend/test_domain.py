"""The backend's domain with no AWS at all: job state machine, validation, sniffing, key
layout, cursors, SageMaker notifications, request models, configuration."""

from __future__ import annotations

import gzip
import json
import struct
from itertools import product
from pathlib import Path

import pytest
from pydantic import ValidationError

from oculus_shared import keys
from oculus_shared.config import load_settings
from oculus_shared.cursor import decode_cursor, encode_cursor
from oculus_shared.errors import BadRequest, InvalidTransition, PayloadTooLarge, Unprocessable
from oculus_shared.jobs import (
    Job,
    JobKind,
    JobStatus,
    Task,
    can_transition,
    check_transition,
    sources_of,
)
from oculus_shared.models import ClassifyRequest, TotalsegRequest
from oculus_shared.notifications import NotificationError, parse_sqs_body
from oculus_shared.validation import (
    check_content,
    check_filename,
    check_size,
    file_type_of,
    sniff_format,
)

# Written out independently of jobs.ALLOWED_TRANSITIONS: the design's lifecycle.
ALLOWED = {
    ("uploading", "uploaded"), ("uploading", "failed"), ("uploading", "deleted"),
    ("uploaded", "queued"), ("uploaded", "failed"), ("uploaded", "deleted"),
    ("queued", "processing"), ("queued", "completed"), ("queued", "failed"), ("queued", "deleted"),
    ("processing", "completed"), ("processing", "failed"), ("processing", "deleted"),  # DELETE cancels
    ("completed", "deleted"), ("failed", "deleted"),
}
ALL_PAIRS = list(product(JobStatus, JobStatus))


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS, ids=[f"{a.value}->{b.value}" for a, b in ALL_PAIRS])
def test_every_transition_is_allowed_or_refused_as_designed(current, target):
    allowed = (current.value, target.value) in ALLOWED
    assert can_transition(current, target) is allowed
    assert (current in sources_of(target)) is allowed
    if allowed:
        check_transition(current, target)
    else:
        with pytest.raises(InvalidTransition) as err:
            check_transition(current, target)
        assert err.value.status == 409 and err.value.code == "invalid_state"


def test_job_item_round_trip_and_public_view_hides_storage_details():
    job = Job.new_upload("owner-sub", JobKind.VOLUME, {"filename": "ct.nii.gz", "size": 5, "key": "uploads/x"})
    job.task, job.progress = Task.TOTALSEG, 12.5
    again = Job.from_item(job.to_item())
    assert again == job
    view = job.public_view()
    assert "owner" not in json.dumps(view) and "uploads/x" not in json.dumps(view)
    assert view["input"] == {"filename": "ct.nii.gz", "size": 5, "format": None}
    assert len(job.job_id) == 32 and job.created_at.endswith("Z")


@pytest.mark.parametrize("name", ["ct.nii.gz", "My Scan (1).nii", "IMG_0001.dcm", "a.b-c_d.zip", "x.JPG"])
def test_good_filenames(name):
    assert check_filename(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "../a.nii", "a/b.nii", "a\\b.nii", ".hidden.nii", "a..nii", "semi;colon.nii", "tab\t.nii",
     "ünïcode.nii", "a" * 129, "-rf.nii"],
)
def test_bad_filenames(name):
    with pytest.raises(Unprocessable) as err:
        check_filename(name)
    assert err.value.code == "invalid_filename"


@pytest.mark.parametrize(
    ("name", "kind", "tasks"),
    [("a.nii.gz", "volume", {"totalseg"}), ("a.NII", "volume", {"totalseg"}), ("a.zip", "volume", {"totalseg"}),
     ("a.dcm", "volume", {"totalseg", "classify"}), ("a.jpeg", "image", {"classify"}), ("a.png", "image", {"classify"})],
)
def test_extensions_map_to_kinds_and_tasks(name, kind, tasks):
    file_type = file_type_of(name)
    assert file_type.kind.value == kind and {t.value for t in file_type.tasks} == tasks


@pytest.mark.parametrize("name", ["a.gz", "a.txt", "a.nii.bz2", ".nii", "nii"])
def test_unsupported_extensions(name):
    with pytest.raises(Unprocessable) as err:
        file_type_of(name)
    assert err.value.code == "unsupported_extension"


def test_sizes():
    assert check_size(1, 10) == 1 and check_size(10, 10) == 10
    with pytest.raises(PayloadTooLarge):
        check_size(11, 10)
    for bad in (0, -1, True, 1.5, "3"):
        with pytest.raises(Unprocessable):
            check_size(bad, 10)


def _nifti1(endian: str = "<") -> bytes:
    header = bytearray(352)
    header[0:4] = struct.pack(endian + "i", 348)
    header[344:348] = b"n+1\x00"
    return bytes(header)


def _nifti2() -> bytes:
    header = bytearray(544)
    header[0:4] = struct.pack("<i", 540)
    header[4:8] = b"n+2\x00"
    return bytes(header)


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (_nifti1("<"), "nifti1"), (_nifti1(">"), "nifti1"), (_nifti2(), "nifti2"),
        (gzip.compress(_nifti1() + bytes(1000)), "nifti1-gz"), (gzip.compress(_nifti2()), "nifti2-gz"),
        (gzip.compress(b"hello world" * 100), "gzip"),
        (bytes(128) + b"DICM" + bytes(100), "dicom"), (b"PK\x03\x04" + bytes(30), "zip"),
        (b"\xff\xd8\xff\xe0" + bytes(30), "jpeg"), (b"\x89PNG\r\n\x1a\n" + bytes(30), "png"),
        (b"%PDF-1.7", None), (bytes(400), None), (b"", None),
    ],
)
def test_sniffing(head, fmt):
    assert sniff_format(head) == fmt


def test_sniffing_real_files(shared_data):
    assert sniff_format((shared_data / "ct" / "example_ct_sm.nii.gz").read_bytes()[:65536]) == "nifti1-gz"
    assert sniff_format((shared_data / "ct" / "pydicom_CT_small.dcm").read_bytes()[:65536]) == "dicom"


def test_content_must_match_extension():
    assert check_content("a.nii", _nifti1()) == "nifti1"
    with pytest.raises(Unprocessable) as err:
        check_content("a.nii.gz", _nifti1())
    assert err.value.code == "format_mismatch"
    with pytest.raises(Unprocessable) as err:
        check_content("a.nii.gz", gzip.compress(b"not nifti" * 50))
    assert err.value.code == "format_mismatch"
    with pytest.raises(Unprocessable) as err:
        check_content("a.png", b"random")
    assert err.value.code == "unknown_format"


def test_key_layout():
    assert keys.upload_key("u1", "j1", ".nii.gz") == "uploads/u1/j1/input.nii.gz"  # no user file name
    assert keys.results_prefix("u1", "j1") == "results/u1/j1/"
    assert keys.progress_key("u1", "j1") == "results/u1/j1/progress.json"
    assert keys.manifest_key("j1") == "async/requests/j1.json"
    assert keys.parse_s3_uri(keys.s3_uri("b", "a/b/c")) == ("b", "a/b/c")
    for bad in ("http://b/k", "s3://b", "s3:///k"):
        with pytest.raises(ValueError):
            keys.parse_s3_uri(bad)
    assert keys.is_under("results/u/j/stl/a.stl", "results/u/j/")
    assert not keys.is_under("results/u/j/../k/a", "results/u/j/")
    assert not keys.is_under("results/u/other/a", "results/u/j/")


def test_cursor_round_trip_and_tampering():
    key = {"jobId": "j", "owner": "alice", "createdAt": "2026-01-01T00:00:00.000Z"}
    cursor = encode_cursor(key)
    assert cursor and "alice" not in cursor and decode_cursor(cursor, "alice") == key
    assert encode_cursor(None) is None and decode_cursor(None, "alice") is None
    for bad, owner in ((cursor, "bob"), ("@@@", "alice"), (cursor[:-3], "alice"),
                       (encode_cursor({"jobId": "j"}), "alice"), (encode_cursor({"a": 1, "b": 2, "c": 3}), "alice")):
        with pytest.raises(BadRequest) as err:
            decode_cursor(bad, owner)
        assert err.value.code == "invalid_cursor"


def test_status_cursor_is_bound_to_owner_and_status():
    key = {"jobId": "j", "ownerStatus": "alice#completed", "createdAt": "2026-01-01T00:00:00.000Z"}
    cursor = encode_cursor(key)
    assert decode_cursor(cursor, "alice", "completed") == key
    plain = encode_cursor({"jobId": "j", "owner": "alice", "createdAt": "2026-01-01T00:00:00.000Z"})
    # another user, another status, the unfiltered listing's cursor and vice versa: all refused
    for bad, owner, status in ((cursor, "bob", "completed"), (cursor, "alice", "failed"), (cursor, "alice", None),
                               (plain, "alice", "completed")):
        with pytest.raises(BadRequest) as err:
            decode_cursor(bad, owner, status)
        assert err.value.code == "invalid_cursor"


SUCCESS = {
    "awsRegion": "us-east-1", "eventTime": "2026-11-22T10:00:05.608Z", "receivedTime": "2026-11-22T09:58:00.455Z",
    "invocationStatus": "Completed",
    "requestParameters": {"contentType": "application/json", "endpointName": "e", "inputLocation": "s3://b/async/requests/j.json"},
    "responseParameters": {"contentType": "application/json", "outputLocation": "s3://b/async/outputs/x.out"},
    "inferenceId": "j", "eventVersion": "1.0", "eventSource": "aws:sagemaker", "eventName": "InferenceResult",
}
FAILURE = {
    "awsRegion": "us-east-1", "eventTime": "2026-11-22T10:00:05.608Z", "invocationStatus": "Failed",
    "failureReason": "ClientError: Received server error (500) from model.",
    "requestParameters": {"endpointName": "e", "inputLocation": "s3://b/async/requests/j.json"},
    "inferenceId": "j", "eventVersion": "1.0", "eventSource": "aws:sagemaker", "eventName": "InferenceResult",
}


def _sns(message: dict) -> str:
    return json.dumps({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t",
                       "Message": json.dumps(message), "Timestamp": "2026-11-22T10:00:05.700Z"})


def test_success_notification_in_sns_envelope_and_raw():
    for body in (_sns(SUCCESS), json.dumps(SUCCESS)):
        note = parse_sqs_body(body)
        assert note.inference_id == "j" and note.succeeded and note.output_location == "s3://b/async/outputs/x.out"


def test_failure_notification_with_failure_location_in_either_place():
    note = parse_sqs_body(_sns(FAILURE))
    assert not note.succeeded and note.failure_location is None and "500" in note.failure_reason
    top = parse_sqs_body(_sns({**FAILURE, "failureLocation": "s3://b/async/failures/x.out"}))
    nested = parse_sqs_body(_sns({**FAILURE, "responseParameters": {"failureLocation": "s3://b/async/failures/x.out"}}))
    assert top.failure_location == nested.failure_location == "s3://b/async/failures/x.out"


@pytest.mark.parametrize(
    "body",
    ["not json", "[]", _sns({}), json.dumps({**SUCCESS, "inferenceId": ""}),
     json.dumps({**SUCCESS, "invocationStatus": "Pending"}), json.dumps({**SUCCESS, "responseParameters": {}}),
     json.dumps({"Type": "Notification", "Message": "nope"})],
)
def test_unusable_notifications_are_refused(body):
    with pytest.raises(NotificationError):
        parse_sqs_body(body)


def test_totalseg_request_defaults_limits_and_canonical_options():
    request = TotalsegRequest(jobId="a" * 32, roi_subset=["spleen", "liver", "liver"])
    assert request.options() == {"device": "gpu", "fast": False, "reduction_percent": None, "roi_subset": ["liver", "spleen"],
                                 "stl": False, "smoothing": True, "engine": "auto", "totalseg_task": "total"}
    for bad in ({"reduction_percent": 100}, {"reduction_percent": -1}, {"device": "tpu"}, {"fast": "true"},
                {"totalseg_task": "total_fast"},
                {"roi_subset": ["Liver"]}, {"roi_subset": []}, {"unknown": 1}, {"jobId": "../x"}):
        with pytest.raises(ValidationError):
            TotalsegRequest(**{"jobId": "a" * 32, **bad})
    assert ClassifyRequest(jobId="b" * 32).options() == {}


def test_settings_from_environment(monkeypatch):
    monkeypatch.setenv("TABLE_NAME", "t")
    monkeypatch.setenv("BUCKET_NAME", "b")
    monkeypatch.delenv("MAX_UPLOAD_BYTES", raising=False)
    settings = load_settings()
    assert settings.max_upload_bytes == 2 * 1024**3 and settings.multipart_threshold_bytes == 100 * 1024**2
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "lots")
    with pytest.raises(RuntimeError):
        load_settings()
    monkeypatch.delenv("TABLE_NAME")
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "10")
    with pytest.raises(RuntimeError):
        load_settings()


def test_config_documents_every_variable_the_template_sets():
    root = Path(__file__).resolve().parents[3]
    from cfnlint.decode import decode

    import oculus_shared.config as config

    template, _ = decode(str(root / "template.yaml"))
    for name in template["Globals"]["Function"]["Environment"]["Variables"]:
        assert f"``{name}``" in config.__doc__, name


def test_lambda_requirements_stay_light_and_in_step_with_the_layer():
    root = Path(__file__).resolve().parents[3]
    pins = lambda p: sorted(line.strip() for line in p.read_text().splitlines() if line.strip() and not line.startswith("#"))  # noqa: E731
    assert pins(root / "requirements-lambda.txt") == pins(root / "layers" / "deps" / "requirements.txt")
    names = " ".join(pins(root / "requirements-lambda.txt")).lower()
    for heavy in ("numpy", "nibabel", "tensorflow", "torch", "scipy"):
        assert heavy not in names
