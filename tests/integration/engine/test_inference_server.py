"""The inference server's real code path against S3 served by moto's server on 127.0.0.1."""

from __future__ import annotations

import json
import zipfile
from io import BytesIO

import pytest

from oculus.pipeline import TOTALSEG_STAGES

BUCKET = "oculus-test-data"




def _manifest(job_id: str, task: str, key: str, **options) -> dict:
    return {
        "jobId": job_id,
        "task": task,
        "input": f"s3://{BUCKET}/{key}",
        "output": f"s3://{BUCKET}/results/owner-1/{job_id}/",
        "options": options,
    }


def test_ping_reports_engines(client):
    response = client.get("/ping")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["segmentation"]["threshold"] is True


def test_mesh_job_writes_results_and_progress(client, moto_s3, shared_data):
    key = "uploads/owner-1/job-mesh/example_seg.nii.gz"
    moto_s3.upload_file(str(shared_data / "ct" / "example_seg.nii.gz"), BUCKET, key)

    response = client.post("/invocations", json=_manifest("job-mesh", "mesh", key, reduction_percent=50))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True and body["jobId"] == "job-mesh"
    assert body["engine"]["name"] == "labels"
    assert body["result"]["structures"] == 41
    names = {f["name"] for f in body["files"]}
    assert {"scene.obj", "scene.mtl", "scene.glb", "report.json", "preview.png", "result.zip"} <= names
    for entry in body["files"]:
        head = moto_s3.head_object(Bucket=BUCKET, Key=entry["key"])
        assert head["ContentLength"] == entry["size"]
        assert entry["key"].startswith("results/owner-1/job-mesh/")
    zipped = moto_s3.get_object(Bucket=BUCKET, Key="results/owner-1/job-mesh/result.zip")["Body"].read()
    assert "report.json" in zipfile.ZipFile(BytesIO(zipped)).namelist()
    progress = json.loads(
        moto_s3.get_object(Bucket=BUCKET, Key="results/owner-1/job-mesh/progress.json")["Body"].read()
    )
    assert progress["stage"] == "done" and progress["percent"] == 100


def test_the_viewers_files_are_published_before_the_job_ends(client, moto_s3, shared_data, monkeypatch):
    import oculus.server

    seen: list[tuple[dict, set[str]]] = []  # progress.json and the stored objects, when published

    class Watching(oculus.server.ProgressPublisher):
        def publish_files(self, files: list[dict]) -> None:
            super().publish_files(files)
            doc = json.loads(moto_s3.get_object(Bucket=BUCKET, Key=self.location.key)["Body"].read())
            stored = moto_s3.list_objects_v2(Bucket=BUCKET, Prefix="results/owner-1/job-early/")["Contents"]
            seen.append((doc, {o["Key"].rsplit("/", 1)[-1] for o in stored}))

    monkeypatch.setattr(oculus.server, "ProgressPublisher", Watching)
    key = "uploads/owner-1/job-early/example_seg.nii.gz"
    moto_s3.upload_file(str(shared_data / "ct" / "example_seg.nii.gz"), BUCKET, key)
    response = client.post("/invocations", json=_manifest("job-early", "mesh", key))
    assert response.status_code == 200, response.text

    [(doc, stored)] = seen
    assert doc["stage"] not in ("packaging", "done")  # while the engine still works
    assert [f["name"] for f in doc["files"]] == ["scene.glb", "report.json"]
    assert stored == {"progress.json", "scene.glb", "report.json"}  # no ZIP, OBJ or preview yet
    final = {f["name"]: f for f in response.json()["files"]}
    for entry in doc["files"]:  # the job's own final entries, uploaded once
        assert entry == final[entry["name"]]
    done = json.loads(moto_s3.get_object(Bucket=BUCKET, Key="results/owner-1/job-early/progress.json")["Body"].read())
    assert done["stage"] == "done" and [f["name"] for f in done["files"]] == ["scene.glb", "report.json"]


def test_a_job_that_fails_after_publishing_leaves_no_result_behind(client, moto_s3, monkeypatch):
    import oculus.server
    from oculus.errors import InputError

    def engine_failing_late(task, source, out_dir, options, *, viewable, **_):
        out_dir.mkdir(parents=True)
        (out_dir / "scene.glb").write_bytes(b"glTF")
        viewable([{"name": "scene.glb", "size": 4, "contentType": "model/gltf-binary"}])
        raise InputError("the segmentation is empty", code="empty_segmentation")

    monkeypatch.setattr(oculus.server, "run_job_process", engine_failing_late)
    key = "uploads/owner-1/job-late/x.nii.gz"
    moto_s3.put_object(Bucket=BUCKET, Key=key, Body=b"scan")
    response = client.post("/invocations", json=_manifest("job-late", "mesh", key))
    assert response.status_code == 422 and response.json()["error"]["code"] == "empty_segmentation"
    stored = moto_s3.list_objects_v2(Bucket=BUCKET, Prefix="results/owner-1/job-late/")["Contents"]
    assert [o["Key"] for o in stored] == ["results/owner-1/job-late/progress.json"]
    progress = json.loads(moto_s3.get_object(Bucket=BUCKET, Key=stored[0]["Key"])["Body"].read())
    assert progress["stage"] == "failed" and "files" not in progress


def test_not_a_scan_fails_the_job_and_the_server_keeps_serving(client, moto_s3):
    key = "uploads/owner-1/job-bad/notes.nii.gz"
    moto_s3.put_object(Bucket=BUCKET, Key=key, Body=b"this is a shopping list, not a scan\n" * 10)

    response = client.post("/invocations", json=_manifest("job-bad", "totalseg", key, engine="threshold"))

    assert 400 <= response.status_code < 500
    body = response.json()
    assert body["ok"] is False and body["jobId"] == "job-bad"
    assert body["error"]["code"] in ("not_a_scan", "truncated_file", "unsupported_format")
    assert body["error"]["message"]
    failed = json.loads(
        moto_s3.get_object(Bucket=BUCKET, Key="results/owner-1/job-bad/progress.json")["Body"].read()
    )
    assert failed["stage"] == "failed"
    assert client.get("/ping").status_code == 200


def test_missing_input_is_a_clear_error(client):
    response = client.post("/invocations", json=_manifest("job-gone", "totalseg", "uploads/owner-1/job-gone/x.nii.gz"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "input_missing"


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"jobId": "../etc", "task": "totalseg", "input": "s3://b/k", "output": "s3://b/o/"},
        {"jobId": "j1", "task": "format-disk", "input": "s3://b/k", "output": "s3://b/o/"},
        {"jobId": "j1", "task": "totalseg", "input": "/etc/passwd", "output": "s3://b/o/"},
    ],
)
def test_malformed_manifests_are_refused(client, body):
    response = client.post("/invocations", json=body)
    assert response.status_code in (400, 422)
    assert response.json()["error"]["code"] == "invalid_manifest"


def test_body_that_is_not_json(client):
    response = client.post("/invocations", content=b"\x00\x01not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_manifest"


def test_invalid_options_fail_with_field_message(client, moto_s3, shared_data):
    key = "uploads/owner-1/job-opt/example_seg.nii.gz"
    moto_s3.upload_file(str(shared_data / "ct" / "example_seg.nii.gz"), BUCKET, key)
    response = client.post("/invocations", json=_manifest("job-opt", "mesh", key, reduction_percent=150))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_options"
    assert "reduction_percent" in response.json()["error"]["message"]


def test_classify_job_writes_prediction_and_image(client, moto_s3, shared_data):
    image = sorted((shared_data / "brain-mri" / "Training" / "pituitary").glob("*.jpg"))[0]
    key = "uploads/owner-1/job-cls/slice.jpg"
    moto_s3.upload_file(str(image), BUCKET, key)
    response = client.post("/invocations", json=_manifest("job-cls", "classify", key))
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert set(result["probabilities"]) == {"glioma", "meningioma", "no_tumor", "pituitary"}
    assert {f["name"] for f in response.json()["files"]} == {"prediction.json", "image.png"}


def test_classify_job_with_a_broken_image_fails_with_a_code(client, moto_s3):
    key = "uploads/owner-1/job-cls-bad/slice.jpg"
    moto_s3.put_object(Bucket=BUCKET, Key=key, Body=b"\xff\xd8\xff\xe0 truncated jpeg")
    response = client.post("/invocations", json=_manifest("job-cls-bad", "classify", key))
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["code"] and response.json()["error"]["message"]


@pytest.mark.parametrize("key", ["totalseg_task", "task"])  # "task": the manifest key before the rename
def test_the_totalsegmentator_task_reaches_the_engine_under_either_key(client, moto_s3, shared_data, key):
    upload = f"uploads/owner-1/job-task-{key}/example_seg.nii.gz"
    moto_s3.upload_file(str(shared_data / "ct" / "example_seg.nii.gz"), BUCKET, upload)
    manifest = _manifest(f"job-task-{key}", "mesh", upload)
    manifest["options"] = {key: "no_such_task"}
    response = client.post("/invocations", json=manifest)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unknown_task"


def test_only_the_server_reports_the_final_stages(client, moto_s3, shared_data, monkeypatch):
    import oculus.server

    stages: list[str] = []

    class Recording(oculus.server.ProgressPublisher):
        def __call__(self, stage: str, percent: float, **_) -> None:
            if not stages or stages[-1] != stage:
                stages.append(stage)

    monkeypatch.setattr(oculus.server, "ProgressPublisher", Recording)
    key = "uploads/owner-1/job-stages/example_seg.nii.gz"
    moto_s3.upload_file(str(shared_data / "ct" / "example_seg.nii.gz"), BUCKET, key)
    response = client.post("/invocations", json=_manifest("job-stages", "mesh", key, reduction_percent=95))
    assert response.status_code == 200, response.text
    assert stages == list(TOTALSEG_STAGES)  # each once, in order: no "done" before the upload
    # the job lists exactly what was uploaded, each under the job's prefix with its registry type
    listed = {f["key"]: f["contentType"] for f in response.json()["files"]}
    stored = moto_s3.list_objects_v2(Bucket=BUCKET, Prefix="results/owner-1/job-stages/")["Contents"]
    assert set(listed) == {o["Key"] for o in stored}  # progress.json was not written by the recorder
    assert listed["results/owner-1/job-stages/scene.glb"] == "model/gltf-binary"


@pytest.mark.parametrize(("source", "output"), [
    ("uploads/owner-2/job-own/x.nii.gz", "results/owner-1/job-own/"),  # another owner's results
    ("uploads/owner-1/job-other/x.nii.gz", "results/owner-1/job-own/"),  # another job's upload
    ("results/owner-1/job-own/x.nii.gz", "results/owner-1/job-own/"),  # not an upload
    ("uploads/owner-1/job-own/../../owner-2/job-own/x", "results/owner-1/job-own/"),
    ("uploads/owner-1/job-own/x.nii.gz", "results/owner-1/job-own/sub/"),
])
def test_the_engine_reads_and_writes_only_what_the_job_owns(client, moto_s3, source, output):
    manifest = {"jobId": "job-own", "task": "mesh", "input": f"s3://{BUCKET}/{source}",
                "output": f"s3://{BUCKET}/{output}", "options": {}}
    response = client.post("/invocations", json=manifest)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "location_not_allowed"


def test_the_data_bucket_is_the_only_bucket(client, moto_s3, monkeypatch):
    monkeypatch.setenv("OCULUS_BUCKET", "the-data-bucket")
    response = client.post("/invocations", json=_manifest("job-bucket", "mesh", "uploads/owner-1/job-bucket/x.nii.gz"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "location_not_allowed"


def test_a_job_past_its_deadline_is_stopped_and_the_next_job_runs(client, moto_s3, shared_data, monkeypatch):
    key = "uploads/owner-1/job-slow/example_seg.nii.gz"
    moto_s3.upload_file(str(shared_data / "ct" / "example_seg.nii.gz"), BUCKET, key)
    monkeypatch.setenv("OCULUS_JOB_TIMEOUT_S", "0.2")  # the child cannot even import its task in time
    response = client.post("/invocations", json=_manifest("job-slow", "mesh", key))
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "timeout"
    stored = moto_s3.list_objects_v2(Bucket=BUCKET, Prefix="results/owner-1/job-slow/").get("Contents", [])
    assert [o["Key"] for o in stored] == ["results/owner-1/job-slow/progress.json"]  # no partial results
    progress = json.loads(moto_s3.get_object(Bucket=BUCKET, Key=stored[0]["Key"])["Body"].read())
    assert progress["stage"] == "failed" and progress["error"]["code"] == "timeout"
    monkeypatch.delenv("OCULUS_JOB_TIMEOUT_S")
    response = client.post("/invocations", json=_manifest("job-slow", "mesh", key, reduction_percent=95))
    assert response.status_code == 200, response.text  # the job lock was released
