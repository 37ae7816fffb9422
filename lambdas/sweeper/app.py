"""Scheduled sweeper (every 5 minutes): no job stays queued or processing past its deadline.

Jobs past their stage's deadline (``service.job_deadline_seconds``) fail with ``timeout``; the
records cancelled jobs leave behind (``deleted`` tombstones) whose late answer never came are
removed with their objects. Each move is a conditional write, so a job that finishes while the
sweep runs keeps its result, and two overlapping sweeps change nothing twice.
"""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from oculus_shared import service
from oculus_shared.tracing import make_tracer
from oculus_shared.wiring import backend

logger = Logger()
tracer = make_tracer()  # no X-Ray SDK import unless tracing is on
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    outcome = service.sweep_stale_jobs(backend())
    metrics.add_metric(name="JobsTimedOut", unit=MetricUnit.Count, value=outcome["timedOut"])
    metrics.add_metric(name="CancelledJobsPurged", unit=MetricUnit.Count, value=outcome["purged"])
    logger.info("sweep finished", extra=outcome)
    return outcome
