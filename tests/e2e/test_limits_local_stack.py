"""Per-user limits on the running local stack, over HTTP: a stack of its own started with the
limits lowered through template parameters (``--parameter``, as ``sam deploy`` would take
them) and no inference server, so queued jobs stay queued while the test runs."""

from __future__ import annotations

import base64
import io

import pytest
import requests

from .conftest import RunningStack, _stop, start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
EMAIL, PASSWORD = "limits@oculus.local", "Limits-Passw0rd-e2e"


@pytest.fixture(scope="module")
def limited_stack(tmp_path_factory):
    stack = start_stack(tmp_path_factory.mktemp("oculus-limits-state"), EMAIL, PASSWORD, "--no-inference",
                        "--parameter", "MaxUploadsPerUserPerDay=3", "--parameter", "MaxActiveJobsPerUser=1")
    try:
        yield stack
    finally:
        _stop(stack.process)


def png() -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (16, 16), 100).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def post(stack: RunningStack, path: str, token: str, body: dict) -> requests.Response:
    return requests.post(stack.api + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def test_the_web_app_signs_in_with_password_auth_only_on_the_local_stack(limited_stack):
    assert limited_stack.outputs["AuthFlow"] == "USER_PASSWORD_AUTH"  # moto does not check SRP proofs


def test_uploads_and_active_jobs_over_the_limits_are_429_with_retry_after(limited_stack):
    token = limited_stack.sign_in(EMAIL, PASSWORD)
    jobs = []
    for i in range(3):
        created = post(limited_stack, "/upload", token, {"filename": f"slice{i}.png", "file": png()})
        assert created.status_code == 201, created.text
        jobs.append(created.json()["jobId"])
    over = post(limited_stack, "/upload", token, {"filename": "slice3.png", "file": png()})
    assert over.status_code == 429, over.text
    assert over.json()["error"]["code"] == "upload_limit_reached" and over.json()["ok"] is False
    assert 86_000 < int(over.headers["Retry-After"]) <= 86_400

    assert post(limited_stack, "/process/classify", token, {"jobId": jobs[0]}).status_code == 202
    busy = post(limited_stack, "/process/classify", token, {"jobId": jobs[1]})
    assert busy.status_code == 429, busy.text
    assert busy.json()["error"]["code"] == "active_job_limit_reached"
    assert int(busy.headers["Retry-After"]) == 60
    still = requests.get(f"{limited_stack.api}/jobs/{jobs[1]}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert still.json()["job"]["status"] == "uploaded"

    cognito, pool = limited_stack.cognito(), limited_stack.outputs["UserPoolId"]
    cognito.admin_create_user(UserPoolId=pool, Username="other@oculus.local", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool, Username="other@oculus.local", Password=PASSWORD, Permanent=True)
    other = limited_stack.sign_in("other@oculus.local", PASSWORD)
    assert post(limited_stack, "/upload", other, {"filename": "mine.png", "file": png()}).status_code == 201
