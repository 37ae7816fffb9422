"""Process -> SageMaker (stubbed at the boto3 client) -> SNS -> SQS -> results consumer ->
GET /jobs, /files, DELETE; idempotency, duplicates, out-of-order notifications, bad input."""

from __future__ import annotations

import json

import pytest
import requests
from botocore.stub import ANY

from .conftest import BUCKET, ENDPOINT

RECORDED_SUCCESS = {  # the shape SageMaker async inference publishes on success
    "awsRegion": "us-east-1",
    "eventTime": "2026-11-22T10:00:05.608Z",
    "receivedTime": "2026-11-22T09:58:00.455Z",
    "invocationStatus": "Completed",
    "requestParameters": {"contentType": "application/json", "endpointName": ENDPOINT, "inputLocation": None},
    "responseParameters": {"contentType": "application/json", "outputLocation": None},
    "inferenceId": None,
    "eventVersion": "1.0",
    "eventSource": "aws:sagemaker",
    "eventName": "InferenceResult",
}
RECORDED_ERROR = {
    "awsRegion": "us-east-1",
    "eventTime": "2026-11-22T10:00:05.608Z",
    "receivedTime": "2026-11-22T09:58:00.455Z",
    "invocationStatus": "Failed",
    "failureReason": "ClientError: Received client error (422) from model. See the SageMaker Endpoint logs.",
    "requestParameters": {"contentType": "application/json", "endpointName": ENDPOINT, "inputLocation": None},
    "failureLocation": None,
    "inferenceId": None,
    "eventVersion": "1.0",
    "eventSource": "aws:sagemaker",
    "eventName": "InferenceResult",
}


def uploaded_job(api, samples, filename="ct.nii.gz", user="alice") -> str:
    data = samples.ct_nii_gz() if filename.endswith(".nii.gz") else samples.brain_jpeg()
    answer = api.call("POST", "/upload", user=user, body={"filename": filename, "size": len(data)})
    requests.put(answer.json["upload"]["url"], data=data, timeout=30).raise_for_status()
    done = api.call("POST", f"/upload/{answer.json['jobId']}/complete", user=user)
    assert done.status == 200, done.raw
    return answer.json["jobId"]


def expect_invocation(aws, job_id: str) -> None:
    aws.stub("sagemaker-runtime").add_response(
        "invoke_endpoint_async",
        {"InferenceId": job_id, "OutputLocation": f"s3://{BUCKET}/async/outputs/{job_id}.out"},
        {
            "EndpointName": ENDPOINT,
            "InputLocation": f"s3://{BUCKET}/async/requests/{job_id}.json",
            "InferenceId": job_id,
            "ContentType": "application/json",
            "Accept": "application/json",
            "InvocationTimeoutSeconds": ANY,
        },
    )


class Notifications:
    """SNS topics -> SQS queue in moto, as the template wires them; the consumer gets the
    queue's messages exactly as Lambda's SQS event source would hand them over."""

    def __init__(self, aws, handlers):
        self.aws, self.handlers = aws, handlers
        self.success = aws.sns.create_topic(Name="success")["TopicArn"]
        self.error = aws.sns.create_topic(Name="error")["TopicArn"]
        self.queue_url = aws.sqs.create_queue(QueueName="results")["QueueUrl"]
        queue_arn = aws.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for topic in (self.success, self.error):
            aws.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    def publish_success(self, job_id: str, answer: dict) -> None:
        key = f"async/outputs/{job_id}.out"
        self.aws.s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(answer).encode())
        message = json.loads(json.dumps(RECORDED_SUCCESS))
        message["inferenceId"] = job_id
        message["requestParameters"]["inputLocation"] = f"s3://{BUCKET}/async/requests/{job_id}.json"
        message["responseParameters"]["outputLocation"] = f"s3://{BUCKET}/{key}"
        self.aws.sns.publish(TopicArn=self.success, Message=json.dumps(message))

    def publish_error(self, job_id: str, body: dict | None) -> None:
        message = json.loads(json.dumps(RECORDED_ERROR))
        message["inferenceId"] = job_id
        message["requestParameters"]["inputLocation"] = f"s3://{BUCKET}/async/requests/{job_id}.json"
        if body is not None:
            key = f"async/failures/{job_id}-error.out"
            self.aws.s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(body).encode())
            message["failureLocation"] = f"s3://{BUCKET}/{key}"
        self.aws.sns.publish(TopicArn=self.error, Message=json.dumps(message))

    def publish_death(self, job_id: str, attempt: int) -> None:
        """SageMaker's error notification for a container that died mid-job: the failure object
        holds no error body of ours (here nothing; SageMaker's reason is in the message)."""
        key = f"async/failures/{job_id}-{attempt}-error.out"
        self.aws.s3.put_object(Bucket=BUCKET, Key=key, Body=b"")
        message = json.loads(json.dumps(RECORDED_ERROR))
        message["inferenceId"] = job_id
        message["failureReason"] = ("ServerError: Received server error (0) from primary with message "
                                    "\"Connection reset by peer\". See the SageMaker Endpoint logs.")
        message["requestParameters"]["inputLocation"] = f"s3://{BUCKET}/async/requests/{job_id}.json"
        message["failureLocation"] = f"s3://{BUCKET}/{key}"
        self.aws.sns.publish(TopicArn=self.error, Message=json.dumps(message))

    def deliver(self, extra_bodies: tuple[str, ...] = ()) -> dict:
        messages = self.aws.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        records = [
            {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
             "attributes": {}, "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
             "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:results", "awsRegion": "us-east-1"}
            for m in messages
        ]
        for i, body in enumerate(extra_bodies):
            records.append({"messageId": f"extra-{i}", "receiptHandle": "x", "body": body, "attributes": {},
                            "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:results", "awsRegion": "us-east-1"})
        assert records, "nothing was delivered"
        from .conftest import RECORDER, Context

        with RECORDER.within("ResultsFunction"):
            return self.handlers["results"].lambda_handler({"Records": records}, Context())


@pytest.fixture
def notes(aws, handlers):
    return Notifications(aws, handlers)


def engine_success(job_id: str, owner: str = "alice") -> dict:
    prefix = f"results/{owner}/{job_id}/"
    return {
        "ok": True, "jobId": job_id, "task": "totalseg",
        "engine": {"name": "totalsegmentator", "version": "2.18", "task": "total", "degraded": False, "note": ""},
        "files": [
            {"name": "scene.glb", "key": prefix + "scene.glb", "size": 11, "contentType": "model/gltf-binary"},
            {"name": "stl/liver.stl", "key": prefix + "stl/liver.stl", "size": 5, "contentType": "model/stl"},
            {"name": "evil.bin", "key": "results/mallory/other/evil.bin", "size": 1, "contentType": "x"},
        ],
        "result": {"structures": 2, "structureNames": ["liver", "spleen"], "triangles": 1234,
                   "coordinateSystem": "RAS", "warnings": []},
        "timings": {"segmenting": 12.5},
    }


def test_full_happy_path(api, aws, samples, notes):
    job_id = uploaded_job(api, samples)
    expect_invocation(aws, job_id)
    answer = api.call("POST", "/process/totalseg", body={"jobId": job_id, "fast": True, "reduction_percent": 80, "stl": True})
    assert answer.status == 202, answer.raw
    assert answer.json == {"ok": True, "jobId": job_id, "status": "queued", "task": "totalseg"}
    aws.stub("sagemaker-runtime").assert_no_pending_responses()

    manifest = json.loads(aws.s3.get_object(Bucket=BUCKET, Key=f"async/requests/{job_id}.json")["Body"].read())
    upload_key = f"uploads/alice/{job_id}/input.nii.gz"  # neutral: the file name stays in the job record
    assert manifest == {
        "jobId": job_id, "task": "totalseg",
        "input": f"s3://{BUCKET}/{upload_key}",
        "inputETag": aws.s3.head_object(Bucket=BUCKET, Key=upload_key)["ETag"],
        "output": f"s3://{BUCKET}/results/alice/{job_id}/",
        "options": {"device": "gpu", "fast": True, "reduction_percent": 80, "roi_subset": None,
                    "stl": True, "smoothing": True, "engine": "auto", "totalseg_task": "total"},
    }
    assert api.call("GET", f"/jobs/{job_id}").json["job"]["status"] == "queued"

    # The engine starts: progress.json appears under the output prefix.
    aws.s3.put_object(Bucket=BUCKET, Key=f"results/alice/{job_id}/progress.json",
                      Body=json.dumps({"jobId": job_id, "stage": "meshing", "percent": 62.5, "updatedAt": "2026-11-22T10:00:00Z"}))
    job = api.call("GET", f"/jobs/{job_id}").json["job"]
    assert (job["status"], job["stage"], job["progress"]) == ("processing", "meshing", 62.5)

    # The engine publishes the 3D scene early: the running job lists it with a URL that serves it.
    aws.s3.put_object(Bucket=BUCKET, Key=f"results/alice/{job_id}/scene.glb", Body=b"glTF-binary")
    aws.s3.put_object(Bucket=BUCKET, Key=f"results/alice/{job_id}/progress.json", Body=json.dumps({
        "jobId": job_id, "stage": "exporting", "percent": 88, "updatedAt": "2026-11-22T10:00:01Z",
        "files": [{"name": "scene.glb", "key": f"results/alice/{job_id}/scene.glb", "size": 11,
                   "contentType": "model/gltf-binary"}]}))
    [early] = api.call("GET", f"/jobs/{job_id}").json["job"]["files"]
    assert {k: v for k, v in early.items() if k != "url"} == {"name": "scene.glb", "size": 11, "contentType": "model/gltf-binary"}
    assert requests.get(early["url"], timeout=30).content == b"glTF-binary"

    for name, body in (("scene.glb", b"glTF-binary"), ("stl/liver.stl", b"solid")):
        aws.s3.put_object(Bucket=BUCKET, Key=f"results/alice/{job_id}/{name}", Body=body)
    notes.publish_success(job_id, engine_success(job_id))
    batch = notes.deliver()
    assert batch == {"batchItemFailures": []}

    job = api.call("GET", f"/jobs/{job_id}").json["job"]
    assert job["status"] == "completed" and job["progress"] == 100
    assert not any("url" in f for f in job["files"])  # a finished job's files: through GET /files
    assert job["result"]["structures"] == 2 and job["engine"]["name"] == "totalsegmentator"
    # A file outside the job's own prefix is never listed.
    assert [f["name"] for f in job["files"]] == ["scene.glb", "stl/liver.stl"]

    glb = api.call("GET", f"/files/{job_id}/scene.glb")
    assert glb.status == 302
    assert requests.get(glb.headers["Location"], timeout=10).content == b"glTF-binary"
    stl = api.call("GET", f"/files/{job_id}/stl/liver.stl", query={"redirect": "false"})
    assert stl.status == 200 and requests.get(stl.json["url"], timeout=10).content == b"solid"
    assert stl.json["expiresIn"] == 300
    for missing in ("evil.bin", "report.json"):
        answer = api.call("GET", f"/files/{job_id}/{missing}")
        assert answer.status == 404 and answer.error_code == "file_not_found"

    # Duplicate, then out-of-order error notification: nothing changes.
    before = api.call("GET", f"/jobs/{job_id}").json["job"]
    notes.publish_success(job_id, engine_success(job_id))
    notes.publish_error(job_id, {"ok": False, "jobId": job_id, "error": {"code": "segmentation_failed", "message": "x"}})
    assert notes.deliver() == {"batchItemFailures": []}
    assert api.call("GET", f"/jobs/{job_id}").json["job"] == before

    listed = api.call("GET", "/jobs").json["jobs"]
    assert [j["jobId"] for j in listed] == [job_id]

    deleted = api.call("DELETE", f"/jobs/{job_id}")
    assert deleted.status == 200 and deleted.json["deleted"] is True
    assert api.call("GET", f"/jobs/{job_id}").status == 404
    for prefix in (f"uploads/alice/{job_id}/", f"results/alice/{job_id}/", f"async/requests/{job_id}",
                   f"async/outputs/{job_id}"):  # the engine's answer (it holds file names) goes too
        assert aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("KeyCount", 0) == 0
    assert aws.ddb.get_item(TableName="oculus-jobs-test", Key={"jobId": {"S": job_id}}).get("Item") is None


def test_engine_error_notification_fails_the_job_with_its_code(api, aws, samples, notes):
    job_id = uploaded_job(api, samples, "slice.jpg")
    expect_invocation(aws, job_id)
    assert api.call("POST", "/process/classify", body={"jobId": job_id}).status == 202
    notes.publish_error(job_id, {"ok": False, "jobId": job_id, "error": {"code": "invalid_input", "message": "The image is not a brain MRI."}})
    assert notes.deliver() == {"batchItemFailures": []}
    job = api.call("GET", f"/jobs/{job_id}").json["job"]
    assert job["status"] == "failed" and job["task"] == "classify" and job["kind"] == "image"
    assert (job["stage"], job["progress"]) == ("failed", 100)
    assert job["error"] == {"code": "invalid_input", "message": "The image is not a brain MRI."}
    # A late success for a failed job changes nothing.
    notes.publish_success(job_id, {"ok": True, "jobId": job_id, "files": [], "result": {}})
    notes.deliver()
    assert api.call("GET", f"/jobs/{job_id}").json["job"]["status"] == "failed"


def test_a_job_whose_engine_died_is_retried_once_then_fails_with_engine_died(api, aws, samples, notes):
    job_id = uploaded_job(api, samples)
    expect_invocation(aws, job_id)
    assert api.call("POST", "/process/totalseg", body={"jobId": job_id}).status == 202
    aws.s3.put_object(Bucket=BUCKET, Key=f"results/alice/{job_id}/progress.json",
                      Body=b'{"stage": "segmenting", "percent": 40}')
    assert api.call("GET", f"/jobs/{job_id}").json["job"]["status"] == "processing"

    expect_invocation(aws, job_id)  # the retry; a second one would find no stubbed answer and fail the batch
    notes.publish_death(job_id, 1)
    notes.publish_death(job_id, 1)  # SNS/SQS deliver at least once: a copy of the same death
    assert notes.deliver() == {"batchItemFailures": []}
    aws.stub("sagemaker-runtime").assert_no_pending_responses()
    job = api.call("GET", f"/jobs/{job_id}").json["job"]
    assert (job["status"], job["stage"], job["progress"], job["error"]) == ("queued", "queued", 0, None)
    item = aws.ddb.get_item(TableName="oculus-jobs-test", Key={"jobId": {"S": job_id}})["Item"]
    assert item["retries"] == {"N": "1"}
    manifest = json.loads(aws.s3.get_object(Bucket=BUCKET, Key=f"async/requests/{job_id}.json")["Body"].read())
    assert manifest["jobId"] == job_id and manifest["task"] == "totalseg"
    assert aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"results/alice/{job_id}/").get("KeyCount", 0) == 0

    notes.publish_death(job_id, 2)
    assert notes.deliver() == {"batchItemFailures": []}
    job = api.call("GET", f"/jobs/{job_id}").json["job"]
    assert job["status"] == "failed" and job["error"]["code"] == "engine_died", job
    assert "twice" in job["error"]["message"]

    assert api.call("DELETE", f"/jobs/{job_id}").status == 200  # both deaths' objects go with the job
    assert aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"async/failures/{job_id}").get("KeyCount", 0) == 0


def test_an_engine_reported_failure_is_never_retried(api, aws, samples, notes):
    job_id = uploaded_job(api, samples, "slice.jpg")
    expect_invocation(aws, job_id)
    api.call("POST", "/process/classify", body={"jobId": job_id})
    notes.publish_error(job_id, {"ok": False, "jobId": job_id,
                                 "error": {"code": "not_a_scan", "message": "This image is not a brain MRI."}})
    assert notes.deliver() == {"batchItemFailures": []}  # a retry would find no stubbed invocation
    job = api.call("GET", f"/jobs/{job_id}").json["job"]
    assert job["status"] == "failed" and job["error"]["code"] == "not_a_scan"


def test_a_retried_job_completes(api, aws, samples, notes):
    job_id = uploaded_job(api, samples)
    expect_invocation(aws, job_id)
    api.call("POST", "/process/totalseg", body={"jobId": job_id})
    expect_invocation(aws, job_id)
    notes.publish_death(job_id, 1)
    notes.deliver()
    notes.publish_success(job_id, engine_success(job_id))
    assert notes.deliver() == {"batchItemFailures": []}
    assert api.call("GET", f"/jobs/{job_id}").json["job"]["status"] == "completed"


def test_poison_and_unknown_notifications(api, aws, notes):
    notes.publish_success("f" * 32, {"ok": True})  # no such job: ignored, not retried
    result = notes.deliver(extra_bodies=("not json", json.dumps({"Type": "Notification", "Message": "{}"})))
    assert result == {"batchItemFailures": [{"itemIdentifier": "extra-0"}, {"itemIdentifier": "extra-1"}]}


def test_repeated_identical_request_does_not_start_a_second_gpu_job(api, aws, samples):
    job_id = uploaded_job(api, samples)
    expect_invocation(aws, job_id)  # exactly one queued stub response: a second call would fail
    body = {"jobId": job_id, "roi_subset": ["spleen", "liver"]}
    first = api.call("POST", "/process/totalseg", body=body)
    second = api.call("POST", "/process/totalseg", body={"jobId": job_id, "roi_subset": ["liver", "spleen"]})
    assert first.status == second.status == 202 and first.json == second.json
    aws.stub("sagemaker-runtime").assert_no_pending_responses()
    different = api.call("POST", "/process/totalseg", body={"jobId": job_id, "fast": True})
    assert different.status == 409 and different.error_code == "invalid_state"


def test_the_caller_is_part_of_the_idempotency_key(api, aws, samples):
    """Bob repeating Alice's exact request must not get Alice's cached 202 (Powertools'
    idempotency record is keyed on the whole request, owner included): he gets the 404 of a
    job he cannot see, and nothing is queued twice."""
    job_id = uploaded_job(api, samples, user="alice")
    expect_invocation(aws, job_id)
    body = {"jobId": job_id, "fast": True}
    assert api.call("POST", "/process/totalseg", user="alice", body=body).status == 202
    theirs = api.call("POST", "/process/totalseg", user="bob", body=body)
    assert theirs.status == 404 and theirs.error_code == "job_not_found", theirs.raw
    aws.stub("sagemaker-runtime").assert_no_pending_responses()
    assert api.call("POST", "/process/totalseg", user="alice", body=body).status == 202  # alice's replay


def test_an_answer_that_does_not_fit_its_declared_response_is_a_500(api, aws, samples, handlers, monkeypatch):
    job_id = uploaded_job(api, samples)
    view = api.call("GET", f"/jobs/{job_id}").json["job"]
    assert set(view) == set(__import__("oculus_shared.responses").responses.JobView.__annotations__)
    monkeypatch.setattr(handlers["jobs"].service, "job_view", lambda *a: {**view, "status": "lost"})
    answer = api.call("GET", f"/jobs/{job_id}")
    assert answer.status == 500 and answer.error_code == "internal_error", answer.raw


def test_processing_a_job_that_is_not_uploaded_is_refused(api, aws):
    created = api.call("POST", "/upload", body={"filename": "ct.nii.gz", "size": 100}).json["jobId"]
    answer = api.call("POST", "/process/totalseg", body={"jobId": created})
    assert answer.status == 409 and answer.error_code == "invalid_state"


def test_endpoint_failure_fails_the_job_and_answers_503(api, aws, samples):
    job_id = uploaded_job(api, samples)
    aws.stub("sagemaker-runtime").add_client_error("invoke_endpoint_async", "ValidationError", "Endpoint not found", 400)
    answer = api.call("POST", "/process/totalseg", body={"jobId": job_id})
    assert answer.status == 503 and answer.error_code == "endpoint_unavailable"
    assert api.call("GET", f"/jobs/{job_id}").json["job"]["status"] == "failed"


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/process/totalseg", {"jobId": "x"}, 422, "validation_error"),
        ("/process/totalseg", {"device": "gpu"}, 422, "validation_error"),
        ("/process/totalseg", {"jobId": "0" * 32, "device": "tpu"}, 422, "validation_error"),
        ("/process/totalseg", {"jobId": "0" * 32, "reduction_percent": 100}, 422, "validation_error"),
        ("/process/totalseg", {"jobId": "0" * 32, "reduction_percent": -1}, 422, "validation_error"),
        ("/process/totalseg", {"jobId": "0" * 32, "fast": "yes"}, 422, "validation_error"),
        ("/process/totalseg", {"jobId": "0" * 32, "roi_subset": ["Liver; drop"]}, 422, "validation_error"),
        ("/process/totalseg", {"jobId": "0" * 32, "roi_subset": []}, 422, "validation_error"),
        ("/process/totalseg", {"jobId": "0" * 32, "engine": "magic"}, 422, "validation_error"),
        ("/process/totalseg", {"jobId": "0" * 32, "gpu_count": 8}, 422, "validation_error"),
        ("/process/classify", {"jobId": "0" * 32, "fast": True}, 422, "validation_error"),
        ("/process/classify", {"jobId": "0" * 32}, 404, "job_not_found"),
    ],
)
def test_bad_process_requests(api, aws, path, body, status, code):
    answer = api.call("POST", path, body=body)
    assert answer.status == status and answer.error_code == code, answer.raw


def test_a_task_the_input_cannot_feed_is_refused(api, aws, samples):
    volume = uploaded_job(api, samples, "ct.nii.gz")
    image = uploaded_job(api, samples, "slice.jpg")
    assert api.call("POST", "/process/classify", body={"jobId": volume}).error_code == "task_not_supported_for_input"
    assert api.call("POST", "/process/totalseg", body={"jobId": image}).error_code == "task_not_supported_for_input"


def test_deleting_a_running_job_cancels_it(api, aws, samples):
    job_id = uploaded_job(api, samples)
    expect_invocation(aws, job_id)
    api.call("POST", "/process/totalseg", body={"jobId": job_id})
    answer = api.call("DELETE", f"/jobs/{job_id}")
    assert answer.status == 200 and answer.json["deleted"] is True
    assert api.call("GET", f"/jobs/{job_id}").status == 404


def test_users_cannot_see_or_touch_each_others_jobs(api, aws, samples):
    job_id = uploaded_job(api, samples, user="alice")
    missing = "0" * 32
    for method, path, body in (
        ("GET", f"/jobs/{job_id}", None),
        ("DELETE", f"/jobs/{job_id}", None),
        ("POST", f"/upload/{job_id}/complete", None),
        ("POST", "/process/totalseg", {"jobId": job_id}),
        ("GET", f"/files/{job_id}/scene.glb", None),
    ):
        theirs = api.call(method, path, user="bob", body=body)
        nothing = api.call(method, path.replace(job_id, missing), user="bob", body=body and {"jobId": missing})
        assert theirs.status == 404 and theirs.json == nothing.json, (method, path, theirs.raw)
    assert api.call("GET", "/jobs", user="bob").json == {"ok": True, "jobs": [], "nextCursor": None}
    assert api.call("GET", f"/jobs/{job_id}", user="alice").json["job"]["status"] == "uploaded"


def test_listing_is_newest_first_paginated_and_filtered(api, aws, samples):
    ids = [api.call("POST", "/upload", body={"filename": f"ct{i}.nii", "size": 10}).json["jobId"] for i in range(5)]
    uploaded = uploaded_job(api, samples)
    seen, cursor = [], None
    while True:
        page = api.call("GET", "/jobs", query={"limit": "2", **({"cursor": cursor} if cursor else {})})
        assert page.status == 200, page.raw
        seen += [j["jobId"] for j in page.json["jobs"]]
        cursor = page.json["nextCursor"]
        if not cursor:
            break
    assert seen == [uploaded, *reversed(ids)]
    only = api.call("GET", "/jobs", query={"status": "uploaded"}).json["jobs"]
    assert [j["jobId"] for j in only] == [uploaded]
    first = api.call("GET", "/jobs", query={"limit": "2"}).json["nextCursor"]
    stolen = api.call("GET", "/jobs", user="bob", query={"cursor": first})
    assert stolen.status == 400 and stolen.error_code == "invalid_cursor"
    for query, code in (({"limit": "0"}, "validation_error"), ({"limit": "abc"}, "validation_error"),
                        ({"status": "deleted"}, "validation_error"), ({"cursor": "@@@"}, "invalid_cursor")):
        answer = api.call("GET", "/jobs", query=query)
        assert 400 <= answer.status < 500 and answer.error_code == code, (query, answer.raw)


def _pages(api, query, user="alice"):
    """Every page of a listing: (ids, nextCursor) per page."""
    pages, cursor = [], None
    while True:
        answer = api.call("GET", "/jobs", user=user, query={**query, **({"cursor": cursor} if cursor else {})})
        assert answer.status == 200, answer.raw
        cursor = answer.json["nextCursor"]
        pages.append(([j["jobId"] for j in answer.json["jobs"]], cursor))
        if not cursor:
            return pages


def test_status_filtered_pages_come_back_full(api, aws, samples):
    from oculus_shared.jobs import JobStatus
    from oculus_shared.wiring import backend

    png = __import__("base64").b64encode(samples.png()).decode()
    created = []  # oldest first; every third one is uploaded (inline), the rest uploading
    for i in range(8):
        body = {"filename": f"s{i}.png", "file": png} if i % 3 == 0 else {"filename": f"ct{i}.nii", "size": 10}
        created.append(api.call("POST", "/upload", body=body).json["jobId"])
    uploaded = [j for i, j in enumerate(created) if i % 3 == 0][::-1]
    uploading = [j for i, j in enumerate(created) if i % 3 != 0][::-1]
    # A system transition (no owner given: the store looks it up) keeps the status index in step.
    backend().jobs.transition(uploading[-1], JobStatus.FAILED, updates={"error": {"code": "x", "message": "y"}})
    failed, uploading = [uploading[-1]], uploading[:-1]
    # An interrupted delete leaves a 'deleted' item behind: never listed, never shortens a page.
    backend().jobs.transition(uploading[0], JobStatus.DELETED, owner="alice")
    uploading = uploading[1:]
    api.call("POST", "/upload", user="bob", body={"filename": "b.nii", "size": 10})

    for query, expected in (({"status": "uploaded"}, uploaded), ({"status": "uploading"}, uploading),
                            ({"status": "failed"}, failed), ({}, [j for j in created[::-1] if j in uploaded + uploading + failed])):
        for limit in (1, 2, 3):
            pages = _pages(api, {**query, "limit": str(limit)})
            assert [j for ids, _ in pages for j in ids] == expected, (query, limit)
            # every page but the last is full; the last has no cursor (and is not empty unless all is)
            assert all(len(ids) == limit for ids, _ in pages[:-1]), (query, limit, pages)
            assert pages[-1][1] is None and (pages[-1][0] or not expected)
    assert api.call("GET", "/jobs", query={"status": "completed"}).json == {"ok": True, "jobs": [], "nextCursor": None}

    # A cursor only continues the listing it came from, for the user it was issued to.
    status_cursor = api.call("GET", "/jobs", query={"status": "uploading", "limit": "1"}).json["nextCursor"]
    plain_cursor = api.call("GET", "/jobs", query={"limit": "1"}).json["nextCursor"]
    for user, query in (("alice", {"status": "uploaded", "cursor": status_cursor}),
                        ("alice", {"cursor": status_cursor}),
                        ("alice", {"status": "uploading", "cursor": plain_cursor}),
                        ("bob", {"status": "uploading", "cursor": status_cursor})):
        answer = api.call("GET", "/jobs", user=user, query=query)
        assert answer.status == 400 and answer.error_code == "invalid_cursor", (user, query, answer.raw)


def test_completion_is_accepted_straight_from_queued(api, aws, samples, notes):
    """Nobody GETs the job while it runs, so it is never marked processing: the success
    notification completes it from queued, and a stale progress.json changes nothing after."""
    job_id = uploaded_job(api, samples)
    expect_invocation(aws, job_id)
    assert api.call("POST", "/process/totalseg", body={"jobId": job_id}).status == 202
    aws.s3.put_object(Bucket=BUCKET, Key=f"results/alice/{job_id}/progress.json",
                      Body=json.dumps({"jobId": job_id, "stage": "exporting", "percent": 90}))
    item = aws.ddb.get_item(TableName="oculus-jobs-test", Key={"jobId": {"S": job_id}})["Item"]
    assert item["status"]["S"] == "queued"
    notes.publish_success(job_id, engine_success(job_id))
    assert notes.deliver() == {"batchItemFailures": []}
    job = api.call("GET", f"/jobs/{job_id}").json["job"]
    assert (job["status"], job["stage"], job["progress"]) == ("completed", "done", 100)
    listed = api.call("GET", "/jobs", query={"status": "completed"}).json["jobs"]
    assert [j["jobId"] for j in listed] == [job_id]
    assert api.call("GET", "/jobs", query={"status": "queued"}).json["jobs"] == []
    # a duplicate changes nothing
    notes.publish_success(job_id, engine_success(job_id))
    assert notes.deliver() == {"batchItemFailures": []}
    assert api.call("GET", f"/jobs/{job_id}").json["job"] == job


def _endpoint_with(aws, instances: int) -> None:
    aws.stub("sagemaker").add_response(
        "describe_endpoint",
        {"EndpointName": ENDPOINT, "EndpointArn": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{ENDPOINT}",
         "EndpointConfigName": "cfg", "EndpointStatus": "InService",
         "ProductionVariants": [{"VariantName": "AllTraffic", "CurrentInstanceCount": instances}],
         "CreationTime": "2026-01-01T00:00:00Z", "LastModifiedTime": "2026-01-01T00:00:00Z"},
        {"EndpointName": ENDPOINT},
    )


def test_a_queued_job_says_the_gpu_is_waking_while_the_endpoint_has_no_instance(api, aws, samples):
    job_id = uploaded_job(api, samples)
    expect_invocation(aws, job_id)
    assert api.call("POST", "/process/totalseg", body={"jobId": job_id}).status == 202

    _endpoint_with(aws, 0)
    job = api.call("GET", f"/jobs/{job_id}").json["job"]
    assert (job["status"], job["stage"]) == ("queued", "waking_gpu")

    _endpoint_with(aws, 1)
    job = api.call("GET", f"/jobs/{job_id}").json["job"]
    assert (job["status"], job["stage"]) == ("queued", "queued")
    aws.stub("sagemaker").assert_no_pending_responses()
