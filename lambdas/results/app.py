"""Results consumer: SageMaker async success/error notifications (SNS -> SQS), a batch with
partial failures. A job whose engine died is re-queued once (``service.apply_notification``).
Idempotent: duplicates and out-of-order notifications change nothing;
a record that cannot be parsed fails alone and ends in the dead-letter queue."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from oculus_shared import service
from oculus_shared.notifications import parse_sqs_body
from oculus_shared.tracing import make_tracer
from oculus_shared.wiring import backend

logger = Logger()
tracer = make_tracer()  # no X-Ray SDK import unless tracing is on
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)

_METRIC = {"completed": "JobsCompleted", "failed": "JobsFailed", "retried": "JobsRetried",
           "ignored": "NotificationsIgnored"}


@tracer.capture_method
def record_handler(record: SQSRecord) -> str:
    note = parse_sqs_body(record.body)
    outcome = service.apply_notification(backend(), note)
    logger.info("notification applied", extra={"job_id": note.inference_id, "outcome": outcome})
    metrics.add_metric(name=_METRIC[outcome], unit=MetricUnit.Count, value=1)
    return outcome


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
