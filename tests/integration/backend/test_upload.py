"""POST /upload and POST /upload/{jobId}/complete against moto, through presigned URLs."""

from __future__ import annotations

import base64

import pytest
import requests

from .conftest import BUCKET, nifti1_header

MiB = 1024 * 1024


def _upload_put(api, filename: str, data: bytes, user: str = "alice") -> str:
    answer = api.call("POST", "/upload", user=user, body={"filename": filename, "size": len(data)})
    assert answer.status == 201, answer.raw
    upload = answer.json["upload"]
    assert upload["method"] == "PUT"
    requests.put(upload["url"], data=data, timeout=30).raise_for_status()
    return answer.json["jobId"]


def test_presigned_put_then_complete_marks_uploaded(api, aws, samples):
    data = samples.ct_nii_gz()
    job_id = _upload_put(api, "example ct.nii.gz", data)
    assert api.call("GET", f"/jobs/{job_id}").json["job"]["status"] == "uploading"

    done = api.call("POST", f"/upload/{job_id}/complete")
    assert done.status == 200, done.raw
    job = done.json["job"]
    assert job["status"] == "uploaded"
    assert job["input"] == {"filename": "example ct.nii.gz", "size": len(data), "format": "nifti1-gz"}
    stored = aws.s3.get_object(Bucket=BUCKET, Key=f"uploads/alice/{job_id}/input.nii.gz")["Body"].read()
    assert stored == data
    # Completing twice is harmless.
    again = api.call("POST", f"/upload/{job_id}/complete")
    assert again.status == 200 and again.json["job"]["status"] == "uploaded"


@pytest.mark.parametrize(
    ("filename", "fmt", "sample"),
    [("slice.dcm", "dicom", "dicom"), ("brain.jpg", "jpeg", "brain_jpeg"), ("brain.png", "png", "png")],
)
def test_each_accepted_format_is_detected(api, samples, filename, fmt, sample):
    job_id = _upload_put(api, filename, getattr(samples, sample)())
    done = api.call("POST", f"/upload/{job_id}/complete")
    assert done.status == 200, done.raw
    assert done.json["job"]["input"]["format"] == fmt
    assert done.json["job"]["kind"] == ("image" if filename.endswith((".jpg", ".png")) else "volume")


def test_multipart_upload_over_100_mb_through_presigned_part_urls(api, aws, tmp_path):
    size = 101 * MiB
    path = tmp_path / "big.nii"
    with path.open("wb") as f:  # sparse: a NIfTI-1 header, then a hole
        f.write(nifti1_header())
        f.truncate(size)
    answer = api.call("POST", "/upload", body={"filename": "big.nii", "size": size})
    assert answer.status == 201, answer.raw
    upload = answer.json["upload"]
    assert upload["method"] == "multipart"
    assert [p["partNumber"] for p in upload["parts"]] == [1, 2]
    parts = []
    with path.open("rb") as f:
        for part in upload["parts"]:
            response = requests.put(part["url"], data=f.read(upload["partSize"]), timeout=60)
            response.raise_for_status()
            parts.append({"partNumber": part["partNumber"], "etag": response.headers["ETag"]})
    job_id = answer.json["jobId"]
    done = api.call("POST", f"/upload/{job_id}/complete", body={"parts": parts})
    assert done.status == 200, done.raw
    assert done.json["job"]["input"] == {"filename": "big.nii", "size": size, "format": "nifti1"}
    head = aws.s3.head_object(Bucket=BUCKET, Key=f"uploads/alice/{job_id}/input.nii")
    assert head["ContentLength"] == size


def test_multipart_complete_without_client_etags_lists_the_parts(api, aws, monkeypatch, tmp_path):
    from oculus_shared import wiring

    monkeypatch.setenv("MULTIPART_THRESHOLD_BYTES", str(6 * MiB))
    monkeypatch.setenv("MULTIPART_PART_BYTES", str(5 * MiB))
    wiring.reset()
    data = nifti1_header() + bytes(7 * MiB)
    answer = api.call("POST", "/upload", body={"filename": "mid.nii", "size": len(data)})
    upload = answer.json["upload"]
    assert upload["method"] == "multipart" and len(upload["parts"]) == 2
    job_id = answer.json["jobId"]
    # Only the first part: completing must refuse and leave the job uploading.
    requests.put(upload["parts"][0]["url"], data=data[: 5 * MiB], timeout=30).raise_for_status()
    early = api.call("POST", f"/upload/{job_id}/complete")
    assert early.status == 409 and early.error_code == "upload_incomplete", early.raw
    assert api.call("GET", f"/jobs/{job_id}").json["job"]["status"] == "uploading"
    requests.put(upload["parts"][1]["url"], data=data[5 * MiB:], timeout=30).raise_for_status()
    done = api.call("POST", f"/upload/{job_id}/complete")
    assert done.status == 200, done.raw
    assert done.json["job"]["input"]["size"] == len(data)


def test_complete_before_the_file_arrives_is_a_409_and_keeps_the_job(api):
    answer = api.call("POST", "/upload", body={"filename": "ct.nii.gz", "size": 1000})
    job_id = answer.json["jobId"]
    done = api.call("POST", f"/upload/{job_id}/complete")
    assert done.status == 409 and done.error_code == "upload_missing"
    assert api.call("GET", f"/jobs/{job_id}").json["job"]["status"] == "uploading"


@pytest.mark.parametrize(
    ("filename", "data", "code"),
    [
        ("ct.nii.gz", b"\x89PNG\r\n\x1a\n" + bytes(100), "format_mismatch"),
        ("brain.png", b"\xff\xd8\xff\xe0" + bytes(100), "format_mismatch"),
        ("ct.zip", b"just some text, not an archive", "unknown_format"),
        ("scan.dcm", bytes(200), "unknown_format"),
    ],
)
def test_bad_content_fails_the_job_with_a_clear_code(api, filename, data, code):
    job_id = _upload_put(api, filename, data)
    done = api.call("POST", f"/upload/{job_id}/complete")
    assert done.status == 422 and done.error_code == code, done.raw
    job = api.call("GET", f"/jobs/{job_id}").json["job"]
    assert job["status"] == "failed" and job["error"]["code"] == code


def test_a_stored_size_other_than_the_declared_one_fails_the_job(api, samples):
    data = samples.png()
    answer = api.call("POST", "/upload", body={"filename": "a.png", "size": len(data) + 5})
    requests.put(answer.json["upload"]["url"], data=data, timeout=30).raise_for_status()
    done = api.call("POST", f"/upload/{answer.json['jobId']}/complete")
    assert done.status == 422 and done.error_code == "size_mismatch"


def test_inline_base64_upload_is_stored_and_sniffed_at_once(api, aws, samples):
    data = samples.brain_jpeg()
    answer = api.call("POST", "/upload", body={"filename": "slice.jpg", "file": base64.b64encode(data).decode()})
    assert answer.status == 201, answer.raw
    assert answer.json["upload"] == {"method": "inline"}
    job = answer.json["job"]
    assert job["status"] == "uploaded" and job["input"]["format"] == "jpeg" and job["input"]["size"] == len(data)
    key = f"uploads/alice/{answer.json['jobId']}/input.jpg"
    assert aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == data


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"filename": "../etc/passwd.nii", "size": 10}, 422, "invalid_filename"),
        ({"filename": "dir/ct.nii", "size": 10}, 422, "invalid_filename"),
        ({"filename": "ct;rm.nii", "size": 10}, 422, "invalid_filename"),
        ({"filename": "a" * 130 + ".nii", "size": 10}, 422, "invalid_filename"),
        ({"filename": "notes.txt", "size": 10}, 422, "unsupported_extension"),
        ({"filename": "ct.nii"}, 422, "size_required"),
        ({"filename": "ct.nii", "size": 0}, 422, "validation_error"),
        ({"filename": "ct.nii", "size": -5}, 422, "validation_error"),
        ({"filename": "ct.nii", "size": "12"}, 422, "validation_error"),
        ({"filename": "ct.nii", "size": 3 * 1024**3}, 413, "file_too_large"),
        ({"filename": "ct.nii", "size": 10, "owner": "bob"}, 422, "validation_error"),
        ({"size": 10}, 422, "validation_error"),
        ({"filename": "a.png", "file": "not base64!!"}, 400, "invalid_base64"),
        ({"filename": "a.png", "file": base64.b64encode(b"hello").decode()}, 422, "unknown_format"),
        ({"filename": "a.png", "file": base64.b64encode(bytes(5 * 1024 * 1024)).decode()}, 413, "file_too_large"),
    ],
)
def test_bad_upload_requests_get_json_errors(api, aws, body, status, code):
    answer = api.call("POST", "/upload", body=body)
    assert answer.status == status, answer.raw
    assert answer.json["ok"] is False and answer.error_code == code
    assert aws.ddb.scan(TableName="oculus-jobs-test")["Count"] == 0  # nothing was created


def test_validation_errors_name_the_fields(api):
    answer = api.call("POST", "/upload", body={"filename": "ct.nii", "size": -1, "extra": 1})
    fields = {f["field"] for f in answer.json["error"]["fields"]}
    assert any(f.endswith("size") for f in fields) and any(f.endswith("extra") for f in fields)


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", ""])
def test_malformed_bodies_are_json_errors_not_500(api, raw):
    answer = api.call("POST", "/upload", raw_body=raw)
    assert 400 <= answer.status < 500, answer.raw
    assert answer.json["ok"] is False


def test_requests_without_an_authenticated_user_are_401(api):
    answer = api.call("POST", "/upload", user=None, body={"filename": "ct.nii", "size": 10})
    assert answer.status == 401 and answer.error_code == "unauthorized"


def test_cors_headers_name_the_web_app_origin(api):
    answer = api.call("POST", "/upload", body={"filename": "ct.nii", "size": 10})
    assert answer.headers.get("Access-Control-Allow-Origin") == "http://localhost:5173"
