"""SQS event source mappings: poll each queue a function's ``SQS`` event names and invoke the
function with Lambda's batch event, deleting what succeeded as the mapping does.

With ``ReportBatchItemFailures`` only the reported items stay on the queue; a handler that
raises leaves the whole batch to come back after the visibility timeout (and, past the
queue's ``maxReceiveCount``, to its dead-letter queue, which moto's redrive handles).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from typing import Any

from .functions import LocalFunction

log = logging.getLogger("oculus_local.sqs")


@dataclass
class SqsMapping:
    function: LocalFunction
    queue_arn: str
    queue_url: str
    batch_size: int
    report_item_failures: bool


def discover_sqs_mappings(functions: dict[str, LocalFunction], resolver: Any, queue_urls: dict[str, str]) -> list[SqsMapping]:
    """``queue_urls`` maps queue ARN -> URL for the queues the local stack created."""
    mappings = []
    for function in functions.values():
        for name, event in function.events.items():
            if event.get("Type") != "SQS":
                continue
            props = resolver.resolve(event.get("Properties") or {})
            if props.get("Enabled") is False:
                continue
            arn = props["Queue"]
            if arn not in queue_urls:
                raise KeyError(f"{function.logical_id}.{name}: queue {arn} was not created locally")
            mappings.append(SqsMapping(
                function=function,
                queue_arn=arn,
                queue_url=queue_urls[arn],
                batch_size=min(10, int(props.get("BatchSize", 10))),  # one ReceiveMessage call's maximum
                report_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            ))
    return mappings


def sqs_event(messages: list[dict], queue_arn: str, region: str) -> dict:
    return {"Records": [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": {
                k: {"stringValue": v.get("StringValue"), "binaryValue": v.get("BinaryValue"),
                    "stringListValues": [], "binaryListValues": [], "dataType": v["DataType"]}
                for k, v in (m.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        }
        for m in messages
    ]}


class SqsPoller:
    """One thread per mapping, long-polling its queue until stopped."""

    def __init__(self, mappings: list[SqsMapping], sqs: Any, region: str, wait_s: int = 1) -> None:
        self.mappings = mappings
        self.sqs = sqs
        self.region = region
        self.wait_s = wait_s
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._poll, args=(m,), name=f"sqs-{m.function.logical_id}", daemon=True)
                        for m in mappings]
        self.invocations = 0

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=self.wait_s + 5)

    def _poll(self, mapping: SqsMapping) -> None:
        while not self.stopping.is_set():
            try:
                self.poll_once(mapping)
            except Exception:  # noqa: BLE001 - keep polling, as the managed mapping does
                log.exception("polling %s failed", mapping.queue_url)
                self.stopping.wait(1)

    def poll_once(self, mapping: SqsMapping) -> int:
        """Receive one batch and hand it to the function; returns how many messages came."""
        messages = self.sqs.receive_message(
            QueueUrl=mapping.queue_url, MaxNumberOfMessages=mapping.batch_size, WaitTimeSeconds=self.wait_s,
            AttributeNames=["All"], MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        self.invocations += 1
        try:
            result = mapping.function.invoke(sqs_event(messages, mapping.queue_arn, self.region))
        except Exception:  # noqa: BLE001 - the batch returns to the queue after its visibility timeout
            log.exception("%s failed on a batch of %d; the messages will be retried",
                          mapping.function.logical_id, len(messages))
            return len(messages)
        failed = set()
        if mapping.report_item_failures and isinstance(result, dict):
            failed = {f.get("itemIdentifier") for f in result.get("batchItemFailures") or []}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(QueueUrl=mapping.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        if failed:
            log.info("%s reported %d failed item(s); they will be retried", mapping.function.logical_id, len(failed))
        return len(messages)
