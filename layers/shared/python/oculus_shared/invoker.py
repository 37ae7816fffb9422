"""The GPU engine: the SageMaker asynchronous inference adapter of ``ports.Invoker``."""

from __future__ import annotations

from typing import Any

from .aws import client

#: endpoint states in which a request will (eventually) be served
SERVING_STATES = {"InService", "Updating", "SystemUpdating", "UpdateRollbackFailed"}


class SageMakerAsyncInvoker:
    def __init__(self, endpoint_name: str, timeout_seconds: int = 3600) -> None:
        self.endpoint_name = endpoint_name
        self.timeout_seconds = timeout_seconds

    def invoke(self, job_id: str, manifest_uri: str) -> str:
        """Queue the request; InferenceId = jobId so the notification names the job."""
        answer = client("sagemaker-runtime").invoke_endpoint_async(
            EndpointName=self.endpoint_name,
            InputLocation=manifest_uri,
            InferenceId=job_id,
            ContentType="application/json",
            Accept="application/json",
            InvocationTimeoutSeconds=self.timeout_seconds,
        )
        return str(answer.get("OutputLocation", ""))

    def endpoint_state(self) -> dict[str, Any]:
        described = client("sagemaker").describe_endpoint(EndpointName=self.endpoint_name)
        status = described.get("EndpointStatus", "Unknown")
        instances = sum(v.get("CurrentInstanceCount", 0) or 0 for v in described.get("ProductionVariants", []))
        return {
            "status": status,
            "instances": instances,
            # Scaled to zero is healthy: the backlog alarm wakes it on the next request.
            "scaledToZero": status in SERVING_STATES and instances == 0,
            "healthy": status in SERVING_STATES,
        }
