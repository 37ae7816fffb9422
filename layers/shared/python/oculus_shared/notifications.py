"""SageMaker asynchronous inference notifications (SNS -> SQS -> results consumer).

SageMaker publishes one JSON message per finished invocation, e.g. on success::

    {"awsRegion": "us-east-1", "eventTime": "...", "receivedTime": "...",
     "invocationStatus": "Completed",
     "requestParameters": {"contentType": "application/json", "endpointName": "...",
                           "inputLocation": "s3://bucket/async/requests/JOB.json"},
     "responseParameters": {"contentType": "application/json",
                            "outputLocation": "s3://bucket/async/outputs/X.out"},
     "inferenceId": "JOB", "eventVersion": "1.0", "eventSource": "aws:sagemaker",
     "eventName": "InferenceResult"}

and on error ``"invocationStatus": "Failed"`` with ``failureReason`` and a
``failureLocation`` (top level, or inside ``responseParameters``). SQS receives the SNS
envelope (``{"Type": "Notification", "Message": "<json>"}``) unless raw delivery is on;
both are accepted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class NotificationError(ValueError):
    """The record is not a SageMaker async notification we can act on (poison message)."""


@dataclass(frozen=True)
class AsyncNotification:
    inference_id: str
    succeeded: bool
    output_location: str | None
    failure_location: str | None
    failure_reason: str | None
    event_time: str | None


def _loads(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise NotificationError(f"{what} is not JSON") from exc
    if not isinstance(value, dict):
        raise NotificationError(f"{what} is not a JSON object")
    return value


def unwrap_sns(body: str) -> dict[str, Any]:
    """The SageMaker message from an SQS body (SNS envelope or raw delivery)."""
    outer = _loads(body, "the SQS body")
    if outer.get("Type") == "Notification" and "Message" in outer:
        return _loads(outer["Message"], "the SNS message")
    return outer


def parse_notification(message: dict[str, Any]) -> AsyncNotification:
    status = message.get("invocationStatus")
    inference_id = message.get("inferenceId")
    if not isinstance(inference_id, str) or not inference_id:
        raise NotificationError("the notification has no inferenceId")
    if status not in ("Completed", "Failed"):
        raise NotificationError(f"unknown invocationStatus {status!r}")
    response = message.get("responseParameters") or {}
    succeeded = status == "Completed"
    output = response.get("outputLocation")
    if succeeded and not output:
        raise NotificationError("a Completed notification has no outputLocation")
    return AsyncNotification(
        inference_id=inference_id,
        succeeded=succeeded,
        output_location=output,
        failure_location=message.get("failureLocation") or response.get("failureLocation"),
        failure_reason=message.get("failureReason"),
        event_time=message.get("eventTime"),
    )


def parse_sqs_body(body: str) -> AsyncNotification:
    return parse_notification(unwrap_sns(body))
