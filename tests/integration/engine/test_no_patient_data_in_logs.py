"""Patient names and ids stay out of the engine's logs: a DICOM series carrying a known
PatientName/PatientID runs through the inference server's job path (``server.run_job``, on
moto S3) with every logger at DEBUG, and neither string appears in anything logged or
printed. (The outputs themselves may carry them: DICOM SEG and RTSTRUCT must name the patient.)"""

from __future__ import annotations

import io
import logging
import zipfile

import pytest
from moto import mock_aws

BUCKET = "oculus-logs-test"
JOB = "0123456789abcdef0123456789abcdef"
NAME, PATIENT_ID = "Sentinel^Patricia", "PID-7731-SENTINEL"


@pytest.fixture
def series_zip(shared_data) -> bytes:
    import pydicom

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted((shared_data / "ct" / "example_ct_dicom").iterdir()):
            dataset = pydicom.dcmread(path)
            dataset.PatientName, dataset.PatientID = NAME, PATIENT_ID
            one = io.BytesIO()
            dataset.save_as(one)
            archive.writestr(f"{NAME}/{path.name}", one.getvalue())  # the folder named after the patient
    return buffer.getvalue()


def test_a_dicom_job_logs_no_patient_name_or_id(series_zip, monkeypatch, caplog, capfd):
    from oculus import server, storage

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "OCULUS_BUCKET": BUCKET}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    caplog.set_level(logging.DEBUG)
    with mock_aws():
        monkeypatch.setattr(storage, "_client", None)
        s3 = storage.s3_client()
        s3.create_bucket(Bucket=BUCKET)
        key = f"uploads/owner-1/{JOB}/input.zip"
        s3.put_object(Bucket=BUCKET, Key=key, Body=series_zip)
        status, body = server.run_job({"jobId": JOB, "task": "totalseg", "input": f"s3://{BUCKET}/{key}",
                                       "output": f"s3://{BUCKET}/results/owner-1/{JOB}/",
                                       "options": {"engine": "threshold"}})
    monkeypatch.setattr(storage, "_client", None)
    assert status == 200 and body["ok"] is True, body
    logged = caplog.text + "".join(capfd.readouterr())
    assert logged.strip(), "nothing was logged: the check would be empty"
    for secret in (NAME, PATIENT_ID, "Sentinel", "Patricia"):
        assert secret not in logged
