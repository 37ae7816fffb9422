"""The engine reads an upload only while it is the object the API checked: the manifest's
``inputETag`` goes to S3 as If-Match, and an object replaced since fails with
``upload_changed`` (on moto, which honours If-Match on GET and HEAD)."""

from __future__ import annotations

import pytest
from moto import mock_aws

from oculus import storage
from oculus.errors import InputError

BUCKET = "oculus-etag-test"
KEY = "uploads/owner-1/job-1/input.nii.gz"


@pytest.fixture
def s3(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        monkeypatch.setattr(storage, "_client", None)
        client = storage.s3_client()
        client.create_bucket(Bucket=BUCKET)
        yield client
    monkeypatch.setattr(storage, "_client", None)


def test_the_checked_object_is_read_and_a_replaced_one_is_refused(s3, tmp_path):
    etag = s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"the checked scan")["ETag"]
    location = storage.S3Location(BUCKET, KEY)
    assert storage.download(location, tmp_path, if_match=etag).read_bytes() == b"the checked scan"
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"something else, put with the same upload URL")
    with pytest.raises(InputError) as err:
        storage.download(location, tmp_path, if_match=etag)
    assert err.value.code == "upload_changed"
    assert storage.download(location, tmp_path).read_bytes().startswith(b"something else")  # no ETag: as stored
