"""The SageMaker async stand-in answers boto3's InvokeEndpointAsync, runs the model and
publishes SageMaker's notifications; the SQS poller feeds them to a function like Lambda."""

from __future__ import annotations

import json
import threading

import boto3
import pytest
from oculus_local.event_sources import SqsMapping, SqsPoller
from oculus_local.sagemaker_async import AsyncEndpoint, EngineDiedError, SageMakerAsyncStandIn
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

BUCKET = "async-unit"


def _serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


class FakeModel:
    """The inference server's contract in miniature: a manifest in, a JSON answer out."""

    def __init__(self) -> None:
        self.manifests: list[dict] = []

    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.path == "/ping":
            return Response("{}", 200, content_type="application/json")(environ, start_response)
        manifest = json.loads(request.get_data())
        self.manifests.append(manifest)
        if manifest["task"] == "explode":
            body, status = {"ok": False, "jobId": manifest["jobId"], "error": {"code": "invalid_scan", "message": "no"}}, 422
        else:
            body, status = {"ok": True, "jobId": manifest["jobId"], "files": []}, 200
        return Response(json.dumps(body), status, content_type="application/json")(environ, start_response)


@pytest.fixture(scope="module")
def wiring(moto_client):
    s3, sns, sqs = moto_client("s3"), moto_client("sns"), moto_client("sqs")
    s3.create_bucket(Bucket=BUCKET)
    queue_url = sqs.create_queue(QueueName="results")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topics = {}
    for name in ("success", "error"):
        topics[name] = sns.create_topic(Name=name)["TopicArn"]
        sns.subscribe(TopicArn=topics[name], Protocol="sqs", Endpoint=queue_arn)
    model = FakeModel()
    model_server, model_url = _serve(model)
    endpoint = AsyncEndpoint("ep", f"s3://{BUCKET}/async/outputs", f"s3://{BUCKET}/async/failures",
                             topics["success"], topics["error"])
    standin = SageMakerAsyncStandIn({"ep": endpoint}, model_url, s3, sns, "us-east-1", "123456789012")
    standin.start()
    standin_server, standin_url = _serve(standin)
    runtime = boto3.client("sagemaker-runtime", region_name="us-east-1", endpoint_url=standin_url,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    yield {"s3": s3, "sqs": sqs, "queue_url": queue_url, "queue_arn": queue_arn, "model": model,
           "runtime": runtime, "standin": standin, "topics": topics}
    standin.stop()
    standin_server.shutdown()
    model_server.shutdown()


def _invoke(w, job_id: str, task: str) -> dict:
    key = f"async/requests/{job_id}.json"
    w["s3"].put_object(Bucket=BUCKET, Key=key, Body=json.dumps({"jobId": job_id, "task": task}).encode())
    answer = w["runtime"].invoke_endpoint_async(EndpointName="ep", InputLocation=f"s3://{BUCKET}/{key}",
                                                InferenceId=job_id, ContentType="application/json")
    assert w["standin"].wait_idle(30)
    return answer


def _notifications(w) -> list[dict]:
    messages = w["sqs"].receive_message(QueueUrl=w["queue_url"], MaxNumberOfMessages=10, WaitTimeSeconds=1)
    out = []
    for m in messages.get("Messages", []):
        out.append(json.loads(json.loads(m["Body"])["Message"]))  # SNS envelope, as without raw delivery
        w["sqs"].delete_message(QueueUrl=w["queue_url"], ReceiptHandle=m["ReceiptHandle"])
    return out


def _read(w, uri: str) -> dict:
    bucket, key = uri[len("s3://"):].split("/", 1)
    return json.loads(w["s3"].get_object(Bucket=bucket, Key=key)["Body"].read())


def test_a_successful_inference_is_stored_and_announced(wiring):
    answer = _invoke(wiring, "job-ok", "totalseg")
    assert answer["InferenceId"] == "job-ok"
    assert answer["OutputLocation"].startswith(f"s3://{BUCKET}/async/outputs/")
    assert wiring["model"].manifests[-1] == {"jobId": "job-ok", "task": "totalseg"}
    assert _read(wiring, answer["OutputLocation"])["ok"] is True
    (note,) = _notifications(wiring)
    assert note["invocationStatus"] == "Completed" and note["inferenceId"] == "job-ok"
    assert note["responseParameters"]["outputLocation"] == answer["OutputLocation"]
    assert note["requestParameters"]["endpointName"] == "ep"


def test_a_failed_inference_goes_to_the_failure_path_and_error_topic(wiring):
    answer = _invoke(wiring, "job-bad", "explode")
    assert _read(wiring, answer["FailureLocation"])["error"]["code"] == "invalid_scan"
    (note,) = _notifications(wiring)
    assert note["invocationStatus"] == "Failed"
    assert "(422)" in note["failureReason"]
    assert note["responseParameters"]["failureLocation"] == answer["FailureLocation"]


def test_an_unknown_endpoint_is_a_validation_error(wiring):
    with pytest.raises(wiring["runtime"].exceptions.ValidationError):
        wiring["runtime"].invoke_endpoint_async(EndpointName="nope", InputLocation=f"s3://{BUCKET}/x")


def test_describe_endpoint_counts_the_model_process_as_the_instance(wiring):
    sagemaker = boto3.client("sagemaker", region_name="us-east-1", endpoint_url=wiring["runtime"].meta.endpoint_url,
                             aws_access_key_id="testing", aws_secret_access_key="testing")
    described = sagemaker.describe_endpoint(EndpointName="ep")
    assert described["EndpointStatus"] == "InService"
    # the model answers /ping: one instance serving
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 1


class BatchFunction:
    logical_id = "Results"

    def __init__(self, fail_bodies: set[str]) -> None:
        self.fail_bodies = fail_bodies
        self.events: list[dict] = []

    def invoke(self, event):
        self.events.append(event)
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]
                                      if r["body"] in self.fail_bodies]}


def test_the_poller_deletes_what_succeeded_and_leaves_reported_failures(moto_client):
    sqs = moto_client("sqs")
    url = sqs.create_queue(QueueName="batch", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for body in ("one", "two", "three"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    function = BatchFunction({"two"})
    poller = SqsPoller([SqsMapping(function, arn, url, 10, True)], sqs, "us-east-1")
    seen = 0
    while seen < 3:
        seen += poller.poll_once(poller.mappings[0])
    records = [r for e in function.events for r in e["Records"]]
    assert {r["eventSource"] for r in records} == {"aws:sqs"}
    assert {r["eventSourceARN"] for r in records} == {arn}
    left = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert [m["Body"] for m in left] == ["two"]


def test_a_request_whose_engine_died_fails_as_on_sagemaker_and_the_queue_waits_for_the_restart(wiring, monkeypatch):
    standin = wiring["standin"]
    calls, waits = [], []

    def dying(item, payload):
        calls.append(item.inference_id)
        raise EngineDiedError("connection reset by peer")

    monkeypatch.setattr(standin, "_invoke_model", dying)
    monkeypatch.setattr(standin, "_wait_for_engine", lambda timeout_s: waits.append(timeout_s) or True)
    answer = _invoke(wiring, "job-died", "totalseg")
    assert calls == ["job-died"]  # no retry of its own: the backend re-queues the job
    assert len(waits) == 1  # the next request runs once the supervisor has restarted the engine
    (note,) = _notifications(wiring)
    assert note["invocationStatus"] == "Failed" and "connection reset by peer" in note["failureReason"]
    failure = answer["FailureLocation"]
    assert note["responseParameters"]["failureLocation"] == failure
    bucket, key = failure[len("s3://"):].split("/", 1)
    body = wiring["s3"].get_object(Bucket=bucket, Key=key)["Body"].read()
    assert not body.startswith(b"{")  # SageMaker's text, never an error body of the engine's
