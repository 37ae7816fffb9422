"""Which classifier version answers a classify job (oculus_shared.model_versions): the client's
choice, the A/B split by job id, the default; recorded in the job and sent to the engine."""

from __future__ import annotations

import dataclasses
import io
import uuid

import pytest
from PIL import Image

from oculus_shared import keys, service
from oculus_shared.config import load_settings
from oculus_shared.errors import Unprocessable
from oculus_shared.jobs import Task
from oculus_shared.model_versions import VersionPolicy, ab_percentile, choose_version

from .fakes import FakeInvoker, InMemoryBlobStore, InMemoryJobStore
from .test_service import ALICE, SETTINGS, died

INDEX = {"default": "v2", "versions": ["v1", "v2", "v3"]}
AB = VersionPolicy(default="v2", candidate="v3", candidate_share=30)
JOB_IDS = [uuid.UUID(int=n).hex for n in range(2000)]


def test_the_clients_version_wins_over_the_ab_test():
    policy = dataclasses.replace(AB, candidate_share=100)
    assert [choose_version(j, "v1", policy, INDEX).version for j in JOB_IDS[:50]] == ["v1"] * 50
    assert choose_version(JOB_IDS[0], "v1", policy, INDEX).options() == {"modelVersion": "v1",
                                                                          "modelVersionChoice": "requested"}


def test_an_unknown_version_is_a_422_that_names_the_versions_served():
    with pytest.raises(Unprocessable) as err:
        choose_version(JOB_IDS[0], "v9", AB, INDEX)
    assert err.value.status == 422 and err.value.code == "unknown_model_version"
    assert all(v in err.value.message for v in INDEX["versions"])


def test_without_a_readable_index_the_engine_checks_the_version():
    assert choose_version(JOB_IDS[0], "v9", AB, None).version == "v9"
    assert choose_version(JOB_IDS[0], None, VersionPolicy(), None).options() == {"modelVersionChoice": "default"}


def test_the_ab_split_is_a_function_of_the_job_id_and_near_its_share():
    first = [choose_version(j, None, AB, INDEX) for j in JOB_IDS]
    again = [choose_version(j, None, AB, INDEX) for j in JOB_IDS]
    assert first == again  # a retry of the same job gets the same version
    on_candidate = [c for c in first if c.version == "v3"]
    assert all(c.reason == "candidate" for c in on_candidate)
    assert {c.version for c in first if c.reason == "default"} == {"v2"}
    assert 0.26 <= len(on_candidate) / len(JOB_IDS) <= 0.34  # 2000 ids: 30 % within ~4.6 sigma
    assert all(0 <= ab_percentile(j) < 100 for j in JOB_IDS)


def test_raising_the_share_only_moves_jobs_to_the_candidate():
    at = {share: {j for j in JOB_IDS if choose_version(j, None, dataclasses.replace(AB, candidate_share=share),
                                                         INDEX).version == "v3"} for share in (0, 30, 60, 100)}
    assert at[0] == set() and at[100] == set(JOB_IDS)
    assert at[30] < at[60] < at[100]


def test_a_candidate_or_default_the_engine_does_not_serve_falls_back_to_its_default():
    policy = VersionPolicy(default="v7", candidate="v8", candidate_share=100)
    assert {choose_version(j, None, policy, INDEX).version for j in JOB_IDS[:100]} == {"v2"}
    assert choose_version(JOB_IDS[0], None, VersionPolicy(default="v1"), INDEX).version == "v1"


@pytest.mark.parametrize(("name", "value"), [("CLASSIFIER_CANDIDATE_SHARE", "101"), ("CLASSIFIER_CANDIDATE_SHARE", "-1"),
                                             ("CLASSIFIER_DEFAULT_VERSION", "../v1"), ("CLASSIFIER_CANDIDATE_VERSION", "v 2")])
def test_a_misconfigured_ab_test_fails_loudly(monkeypatch, name, value):
    monkeypatch.setenv("TABLE_NAME", "t")
    monkeypatch.setenv("BUCKET_NAME", "b")
    monkeypatch.setenv(name, value)
    with pytest.raises(RuntimeError, match=name):
        load_settings()


# -- through the use case --------------------------------------------------------------------------
@pytest.fixture
def b() -> service.Backend:
    backend = service.Backend(dataclasses.replace(
        SETTINGS, model_index_uri="s3://fake-bucket/models/brain_tumor/versions.json", classifier_policy=AB),
        InMemoryJobStore(), InMemoryBlobStore(), FakeInvoker())
    backend.blobs.put_json("models/brain_tumor/versions.json", INDEX)
    return backend


def uploaded_image(b: service.Backend) -> str:
    png = io.BytesIO()
    Image.new("L", (64, 64), 40).save(png, format="PNG")
    created = service.create_upload(b, ALICE, "slice.png", len(png.getvalue()), None)
    b.blobs.put_bytes(b.jobs.get(created["jobId"]).input["key"], png.getvalue())
    service.complete_upload(b, ALICE, created["jobId"], None)
    return created["jobId"]


def _manifest_options(b: service.Backend, job_id: str) -> dict:
    return b.blobs.read_json(keys.manifest_key(job_id))["options"]


def test_the_job_records_the_chosen_version_and_the_engine_gets_it_again_on_a_retry(b):
    job_id = uploaded_image(b)
    service.start_processing(b, ALICE, job_id, Task.CLASSIFY, {})
    expected = choose_version(job_id, None, AB, INDEX).options()
    assert b.jobs.get(job_id).options == expected == _manifest_options(b, job_id)
    assert service.job_view(b, ALICE, job_id)["options"]["modelVersion"] == expected["modelVersion"]
    assert service.apply_notification(b, died(job_id, 1)) == "retried"
    assert _manifest_options(b, job_id) == expected


def test_a_requested_version_is_recorded_and_an_unknown_one_queues_nothing(b):
    job_id = uploaded_image(b)
    with pytest.raises(Unprocessable):
        service.start_processing(b, ALICE, job_id, Task.CLASSIFY, {"modelVersion": "v9"})
    assert b.jobs.get(job_id).status.value == "uploaded" and b.invoker.invocations == []
    service.start_processing(b, ALICE, job_id, Task.CLASSIFY, {"modelVersion": "v1"})
    assert _manifest_options(b, job_id) == {"modelVersion": "v1", "modelVersionChoice": "requested"}


def test_model_info_names_the_default_and_the_ab_test(b):
    for version in INDEX["versions"]:
        b.blobs.put_json(f"models/brain_tumor/{version}/card.json", {"name": "n", "version": "2026", "classes": []})
    info = service.model_info(b)
    assert (info["default"], info["versions"], info["abTest"]) == ("v2", INDEX["versions"], {"candidate": "v3", "share": 30})
    assert [m["version"] for m in info["models"]] == INDEX["versions"]
