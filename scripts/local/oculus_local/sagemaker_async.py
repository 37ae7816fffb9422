"""A stand-in for SageMaker Asynchronous Inference (moto's runtime is a canned stub).

It speaks the ``InvokeEndpointAsync`` REST API (``POST /endpoints/{name}/async-invocations``,
parameters in ``X-Amzn-SageMaker-*`` headers, 202 with ``InferenceId`` and the output/failure
locations) so the process function's unchanged boto3 call lands here. Requests queue; one
worker at a time (MaxConcurrentInvocationsPerInstance=1) reads the manifest from S3, POSTs it
to the inference server's ``/invocations``, stores the answer at the output or failure path
and publishes SageMaker's success/error notification to the configured SNS topics. An engine
that dies mid-request fails it as SageMaker does (no retry here: the backend re-queues the job).
"""

from __future__ import annotations

import http.client
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from werkzeug.wrappers import Request, Response

log = logging.getLogger("oculus_local.sagemaker")
_HEADER = "X-Amzn-SageMaker-"
DEFAULT_INVOCATION_TIMEOUT_S = 900  # SageMaker's default when the caller sets none
#: how long the queue waits for the supervisor to bring a dead engine back (SageMaker: minutes)
ENGINE_RESTART_WAIT_S = 240


class EngineDiedError(Exception):
    """The inference server dropped or refused the connection: no answer at all."""


@dataclass(frozen=True)
class AsyncEndpoint:
    """One async endpoint as the template configures it."""

    name: str
    output_path: str  # s3://bucket/prefix
    failure_path: str
    success_topic: str | None
    error_topic: str | None


@dataclass
class AsyncRequest:
    inference_id: str
    endpoint: AsyncEndpoint
    input_location: str
    content_type: str
    accept: str
    output_location: str
    failure_location: str
    timeout_s: int
    received: datetime


def read_async_endpoints(template: dict, properties: dict[str, dict], refs: dict[str, Any]) -> dict[str, AsyncEndpoint]:
    """Each AWS::SageMaker::Endpoint with its EndpointConfig's AsyncInferenceConfig."""
    endpoints = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::SageMaker::Endpoint" or logical_id not in properties:
            continue
        config_ref = (resource.get("Properties") or {}).get("EndpointConfigName")
        config_id = config_ref.get("Fn::GetAtt", [None])[0] if isinstance(config_ref, dict) and "Fn::GetAtt" in config_ref \
            else (config_ref.get("Ref") if isinstance(config_ref, dict) else None)
        config = properties.get(config_id or "", {}).get("AsyncInferenceConfig")
        if not config:
            continue
        output = config.get("OutputConfig") or {}
        notify = output.get("NotificationConfig") or {}
        name = refs[logical_id]
        endpoints[name] = AsyncEndpoint(
            name=name,
            output_path=output["S3OutputPath"].rstrip("/"),
            failure_path=(output.get("S3FailurePath") or output["S3OutputPath"]).rstrip("/"),
            success_topic=notify.get("SuccessTopic"),
            error_topic=notify.get("ErrorTopic"),
        )
    return endpoints


def _split_s3(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class SageMakerAsyncStandIn:
    """The WSGI API plus the single worker thread behind it."""

    def __init__(self, endpoints: dict[str, AsyncEndpoint], inference_url: str, s3: Any, sns: Any,
                 region: str, account_id: str) -> None:
        self.endpoints = endpoints
        self.inference_url = inference_url.rstrip("/")
        self.s3 = s3
        self.sns = sns
        self.region = region
        self.account_id = account_id
        self.requests: queue.Queue[AsyncRequest | None] = queue.Queue()
        self.processed = 0
        self._worker = threading.Thread(target=self._work, name="sagemaker-async-worker", daemon=True)

    # --- the API -----------------------------------------------------------------------------
    def __call__(self, environ: dict, start_response: Any) -> Any:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        target = request.headers.get("X-Amz-Target", "")
        if target:
            return self.control_plane(target, request)
        parts = request.path.strip("/").split("/")
        if request.method != "POST" or len(parts) != 3 or parts[0] != "endpoints" or parts[2] != "async-invocations":
            return self._error(404, "UnknownOperationException", f"no operation at {request.method} {request.path}")
        endpoint = self.endpoints.get(parts[1])
        if endpoint is None:
            return self._error(400, "ValidationError",
                               f"Endpoint {parts[1]} of account {self.account_id} not found.")
        headers = request.headers
        input_location = headers.get(_HEADER + "InputLocation")
        if not input_location or not input_location.startswith("s3://"):
            return self._error(400, "ValidationError", "InputLocation must be an s3:// URI")
        inference_id = headers.get(_HEADER + "Inference-Id") or str(uuid.uuid4())
        # SageMaker names the result objects itself; callers learn them from this answer.
        object_id = str(uuid.uuid4())
        item = AsyncRequest(
            inference_id=inference_id,
            endpoint=endpoint,
            input_location=input_location,
            content_type=headers.get(_HEADER + "Content-Type", "application/octet-stream"),
            accept=headers.get(_HEADER + "Accept", "*/*"),
            output_location=f"{endpoint.output_path}/{object_id}.out",
            failure_location=f"{endpoint.failure_path}/{object_id}-error.out",
            timeout_s=int(headers.get(_HEADER + "InvocationTimeoutSeconds", DEFAULT_INVOCATION_TIMEOUT_S)),
            received=datetime.now(UTC),
        )
        self.requests.put(item)
        log.info("queued inference %s (backlog %d)", inference_id, self.requests.qsize())
        response = Response(json.dumps({"InferenceId": inference_id}), 202, content_type="application/json")
        response.headers[_HEADER + "OutputLocation"] = item.output_location
        response.headers[_HEADER + "FailureLocation"] = item.failure_location
        return response

    def control_plane(self, target: str, request: Request) -> Response:
        """The one SageMaker control-plane call the backend makes (health: DescribeEndpoint).

        Locally the "instance" is the inference server process: one while it answers /ping.
        """
        if target != "SageMaker.DescribeEndpoint":
            return self._error(400, "UnknownOperationException", f"{target} is not served by the local stand-in")
        name = (request.get_json(force=True, silent=True) or {}).get("EndpointName", "")
        if name not in self.endpoints:
            return self._error(400, "ValidationException", f"Could not find endpoint \"{name}\".")
        instances = 1 if self._model_answers_ping() else 0
        now = time.time()
        body = {
            "EndpointName": name,
            "EndpointArn": f"arn:aws:sagemaker:{self.region}:{self.account_id}:endpoint/{name.lower()}",
            "EndpointConfigName": f"{name}-config",
            "EndpointStatus": "InService",
            "ProductionVariants": [{"VariantName": "AllTraffic", "CurrentInstanceCount": instances,
                                    "DesiredInstanceCount": 1, "CurrentWeight": 1.0, "DesiredWeight": 1.0}],
            "CreationTime": now,
            "LastModifiedTime": now,
        }
        return Response(json.dumps(body), 200, content_type="application/x-amz-json-1.1")

    def _model_answers_ping(self) -> bool:
        try:
            with urllib.request.urlopen(self.inference_url + "/ping", timeout=2) as response:  # noqa: S310 - loopback
                return response.status == 200
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            return False

    @staticmethod
    def _error(status: int, kind: str, message: str) -> Response:
        response = Response(json.dumps({"message": message}), status, content_type="application/json")
        response.headers["x-amzn-ErrorType"] = kind
        return response

    # --- the worker ------------------------------------------------------------------------------
    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self.requests.put(None)
        self._worker.join(timeout=5)

    def _work(self) -> None:
        while True:
            item = self.requests.get()
            if item is None:
                return
            try:
                self.run_one(item)
            except Exception:  # noqa: BLE001 - one broken request must not stop the queue
                log.exception("inference %s could not be completed", item.inference_id)
            finally:
                self.processed += 1
                self.requests.task_done()

    def run_one(self, item: AsyncRequest) -> None:
        bucket, key = _split_s3(item.input_location)
        try:
            payload = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:  # noqa: BLE001 - SageMaker reports an unreadable input as a failure
            self._fail(item, b"", f"ClientError: Failed to download data from {item.input_location}: {exc}")
            return
        try:
            status, body, content_type = self._invoke_model(item, payload)
        except EngineDiedError as exc:
            self._engine_died(item, exc)
            return
        if 200 <= status < 300:
            self._store(item.output_location, body, content_type)
            self._notify(item, item.endpoint.success_topic, "Completed",
                         {"contentType": content_type, "outputLocation": item.output_location})
            log.info("inference %s completed", item.inference_id)
        else:
            side = "client" if 400 <= status < 500 else "server"
            reason = (f"ClientError: Received {side} error ({status}) from primary with message "
                      f"\"{body[:500].decode('utf-8', 'replace')}\". See the SageMaker Endpoint logs in your account for more information.")
            self._fail(item, body, reason, content_type)

    def _engine_died(self, item: AsyncRequest, exc: EngineDiedError) -> None:
        """As SageMaker: the request fails with its own text (no error body of the engine's), and
        the next queued request waits while the container is restarted (the supervisor's job).
        Retrying the job is the backend's (``service.apply_notification``), not ours."""
        log.warning("inference %s: the engine died (%s)", item.inference_id, exc)
        reason = (f"ServerError: Received server error (0) from primary with message \"{exc}\". "
                  "See the SageMaker Endpoint logs in your account for more information.")
        self._fail(item, reason.encode(), reason, "text/plain")
        if not self._wait_for_engine(ENGINE_RESTART_WAIT_S):
            log.error("the engine did not come back within %d s", ENGINE_RESTART_WAIT_S)

    def _wait_for_engine(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._model_answers_ping():
                return True
            time.sleep(0.5)
        return False

    def _invoke_model(self, item: AsyncRequest, payload: bytes) -> tuple[int, bytes, str]:
        request = urllib.request.Request(
            self.inference_url + "/invocations", data=payload, method="POST",
            headers={"Content-Type": item.content_type, "Accept": item.accept,
                     "X-Amzn-SageMaker-Inference-Id": item.inference_id},
        )
        try:
            with urllib.request.urlopen(request, timeout=item.timeout_s) as response:  # noqa: S310 - loopback
                return response.status, response.read(), response.headers.get("Content-Type", "application/json")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), exc.headers.get("Content-Type", "application/json")
        except (ConnectionError, http.client.RemoteDisconnected) as exc:
            raise EngineDiedError(str(exc)) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ConnectionError):
                raise EngineDiedError(str(exc.reason)) from exc
            message = json.dumps({"message": f"the model did not answer: {exc}"}).encode()
            return 500, message, "application/json"
        except TimeoutError as exc:
            message = json.dumps({"message": f"the model did not answer in time: {exc}"}).encode()
            return 408, message, "application/json"

    def _fail(self, item: AsyncRequest, body: bytes, reason: str, content_type: str = "application/json") -> None:
        self._store(item.failure_location, body, content_type)
        self._notify(item, item.endpoint.error_topic, "Failed",
                     {"contentType": content_type, "failureLocation": item.failure_location}, reason)
        log.info("inference %s failed: %s", item.inference_id, reason[:200])

    def _store(self, location: str, body: bytes, content_type: str) -> None:
        bucket, key = _split_s3(location)
        self.s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)

    def _notify(self, item: AsyncRequest, topic: str | None, status: str, response: dict, reason: str | None = None) -> None:
        if not topic:
            return
        message: dict[str, Any] = {
            "awsRegion": self.region,
            "eventTime": _iso(datetime.now(UTC)),
            "receivedTime": _iso(item.received),
            "invocationStatus": status,
            "requestParameters": {
                "contentType": item.content_type,
                "endpointName": item.endpoint.name,
                "inputLocation": item.input_location,
            },
            "responseParameters": response,
            "inferenceId": item.inference_id,
            "eventVersion": "1.0",
            "eventSource": "aws:sagemaker",
            "eventName": "InferenceResult",
        }
        if reason is not None:
            message["failureReason"] = reason
        self.sns.publish(TopicArn=topic, Message=json.dumps(message))

    def wait_idle(self, timeout_s: float) -> bool:
        """For tests: True once the queue is empty and nothing is running."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.requests.unfinished_tasks == 0:
                return True
            time.sleep(0.05)
        return False
