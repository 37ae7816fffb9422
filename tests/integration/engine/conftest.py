"""Fixtures shared by the tests that run the inference server's real code path against S3."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def moto_endpoint(monkeypatch_module):
    """moto's S3 server on 127.0.0.1 for one test module, with the engine's S3 client pointed at it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch_module.setenv(name, value)
    import oculus.storage

    monkeypatch_module.setattr(oculus.storage, "_client", None)
    yield endpoint
    server.stop()


@pytest.fixture(scope="module")
def engine_env():
    """Environment a test module sets before the server starts (overridden where one is needed)."""


@pytest.fixture(scope="module")
def moto_s3(request, moto_endpoint):
    """An S3 client on moto, with the test module's ``BUCKET`` created."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=request.module.BUCKET)
    return s3


@pytest.fixture(scope="module")
def client(moto_s3, engine_env):
    """The inference server app, once ready (``/ping`` is 503 while the engine loads)."""
    from fastapi.testclient import TestClient

    from oculus.server import create_app

    with TestClient(create_app()) as test_client:
        assert test_client.app.state.readiness.wait(120)
        yield test_client
