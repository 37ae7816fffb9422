"""Job persistence: the DynamoDB adapter of ``ports.JobStore``.

Every status change is one UpdateItem whose condition is "the current status is one the
state machine allows to reach the target" (and, for user calls, "the owner is the caller"),
so a refused transition is never applied, whatever the races.

Listing uses two indexes: ``owner-index`` (``owner`` / ``createdAt``) for all of a user's
jobs, and ``owner-status-index`` (``ownerStatus`` = ``"{owner}#{status}"`` / ``createdAt``)
for ``?status=``. ``ownerStatus`` is written with the status in the same write (put and
every transition), so a status listing is a plain Query whose pages come back full, with no
filter expression cutting them short.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from .aws import client, error_code
from .cursor import decode_cursor, encode_cursor, owner_status
from .errors import InvalidTransition, NotFound
from .jobs import Job, JobStatus, check_transition, sources_of, utc_now


def to_dynamo_value(value: Any) -> Any:
    """DynamoDB wants Decimal, not float."""
    return json.loads(json.dumps(value), parse_float=Decimal)


def from_dynamo_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_dynamo_value(v) for v in value]
    return value


#: most Query calls one listing page may make (only the unfiltered listing, skipping the rare
#: ``deleted`` leftovers of an interrupted delete, or a 1 MB response cut, ever needs a second)
MAX_LIST_READS = 5


class DynamoJobStore:
    def __init__(self, table_name: str, owner_index: str = "owner-index",
                 status_index: str = "owner-status-index") -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.table_name = table_name
        self.owner_index = owner_index
        self.status_index = status_index
        self._ser = TypeSerializer()
        self._de = TypeDeserializer()

    # -- (de)serialisation --------------------------------------------------------------
    def _to_av(self, item: dict[str, Any]) -> dict[str, Any]:
        return {k: self._ser.serialize(to_dynamo_value(v)) for k, v in item.items()}

    def _from_av(self, item: dict[str, Any]) -> dict[str, Any]:
        return {k: from_dynamo_value(self._de.deserialize(v)) for k, v in item.items()}

    @property
    def _db(self) -> Any:
        return client("dynamodb")

    # -- operations ---------------------------------------------------------------------
    def put_new(self, job: Job) -> None:
        item = {**job.to_item(), "ownerStatus": owner_status(job.owner, job.status.value)}
        self._db.put_item(
            TableName=self.table_name,
            Item=self._to_av(item),
            ConditionExpression="attribute_not_exists(jobId)",
        )

    def get(self, job_id: str) -> Job | None:
        answer = self._db.get_item(
            TableName=self.table_name, Key={"jobId": {"S": job_id}}, ConsistentRead=True
        )
        return Job.from_item(self._from_av(answer["Item"])) if "Item" in answer else None

    def get_owned(self, owner: str, job_id: str) -> Job:
        job = self.get(job_id)
        # Another user's job and a deleted one look exactly like a missing one.
        if job is None or job.owner != owner or job.status is JobStatus.DELETED:
            raise NotFound("no such job", code="job_not_found")
        return job

    def transition(
        self,
        job_id: str,
        target: JobStatus,
        *,
        owner: str | None = None,
        updates: dict[str, Any] | None = None,
    ) -> Job:
        sources = sorted(s.value for s in sources_of(target))
        key_owner = owner
        if key_owner is None:  # a system transition: the index key needs the (immutable) owner
            current = self.get(job_id)
            if current is None:
                raise NotFound("no such job", code="job_not_found")
            key_owner = current.owner
        names = {"#status": "status", "#updatedAt": "updatedAt", "#ownerStatus": "ownerStatus"}
        values: dict[str, Any] = {
            ":target": target.value, ":now": utc_now(), ":ownerStatus": owner_status(key_owner, target.value)
        }
        sets = ["#status = :target", "#updatedAt = :now", "#ownerStatus = :ownerStatus"]
        _add_updates(updates, sets, names, values)
        source_refs = []
        for i, source in enumerate(sources):
            values[f":s{i}"] = source
            source_refs.append(f":s{i}")
        condition = f"#status IN ({', '.join(source_refs)})"
        if owner is not None:
            names["#owner"] = "owner"
            values[":owner"] = owner
            condition += " AND #owner = :owner"
        job = self._update_if(job_id, sets, names, values, condition)
        if job is None:
            current = self.get(job_id)
            if current is None or (owner is not None and current.owner != owner):
                raise NotFound("no such job", code="job_not_found")
            check_transition(current.status, target)  # raises with the precise reason
            raise InvalidTransition(  # the state moved between our read and write
                f"the job changed state concurrently (now {current.status.value})"
            )
        return job

    def _update_if(self, job_id: str, sets: list[str], names: dict[str, str], values: dict[str, Any],
                   condition: str) -> Job | None:
        """One conditional UpdateItem of an existing job: the job as written, or None when the
        condition did not hold."""
        try:
            answer = self._db.update_item(
                TableName=self.table_name,
                Key={"jobId": {"S": job_id}},
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attribute_exists(jobId) AND " + condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=self._to_av(values),
                ReturnValues="ALL_NEW",
            )
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            return None
        return Job.from_item(self._from_av(answer["Attributes"]))

    def requeue(self, job_id: str, *, owner: str, retries: int, updates: dict[str, Any] | None = None) -> Job:
        names = {"#status": "status", "#updatedAt": "updatedAt", "#ownerStatus": "ownerStatus",
                 "#retries": "retries", "#owner": "owner"}
        values: dict[str, Any] = {
            ":queued": JobStatus.QUEUED.value, ":processing": JobStatus.PROCESSING.value, ":now": utc_now(),
            ":ownerStatus": owner_status(owner, JobStatus.QUEUED.value), ":owner": owner,
            ":retries": retries, ":next": retries + 1,
        }
        sets = ["#status = :queued", "#updatedAt = :now", "#ownerStatus = :ownerStatus", "#retries = :next"]
        _add_updates(updates, sets, names, values)
        count = "(attribute_not_exists(#retries) OR #retries = :retries)" if retries == 0 else "#retries = :retries"
        job = self._update_if(job_id, sets, names, values,
                              f"#owner = :owner AND #status IN (:queued, :processing) AND {count}")
        if job is None:
            current = self.get(job_id)
            if current is None or current.owner != owner:
                raise NotFound("no such job", code="job_not_found")
            raise InvalidTransition(
                f"a {current.status.value} job retried {current.retries} times cannot be re-queued"
            )
        return job

    def set_progress(self, job_id: str, stage: str, percent: float) -> None:
        """Record progress on a processing job; ignored when the job has moved on."""
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key={"jobId": {"S": job_id}},
                UpdateExpression="SET #stage = :stage, #progress = :progress",
                ConditionExpression="#status = :processing",
                ExpressionAttributeNames={"#stage": "stage", "#progress": "progress", "#status": "status"},
                ExpressionAttributeValues=self._to_av(
                    {":stage": stage, ":progress": percent, ":processing": JobStatus.PROCESSING.value}
                ),
            )
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise

    def list_by_owner(
        self, owner: str, *, limit: int, cursor: str | None, status: JobStatus | None
    ) -> tuple[list[Job], str | None]:
        """One page, newest first: ``limit`` jobs (fewer only on the last page) and the cursor
        of the next page (None on the last page).

        With ``status``: a Query on owner-status-index, no filter. Without: owner-index minus
        ``deleted`` jobs. Either way we ask for one item more than the page and, when it comes,
        the cursor is the key of the page's last item, so the last page has no cursor. A
        Query that stops early (the filter, or DynamoDB's 1 MB cut) is continued, at most
        ``MAX_LIST_READS`` calls per page."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "ExpressionAttributeNames": {"#pk": "owner"},
            "KeyConditionExpression": "#pk = :pk",
            "ScanIndexForward": False,  # newest first
        }
        if status is None:
            partition_attr, partition = "owner", owner
            request["IndexName"] = self.owner_index
            request["FilterExpression"] = "#status <> :deleted"
            request["ExpressionAttributeNames"]["#status"] = "status"
            request["ExpressionAttributeValues"] = {":pk": {"S": owner}, ":deleted": {"S": JobStatus.DELETED.value}}
        else:
            partition_attr, partition = "ownerStatus", owner_status(owner, status.value)
            request["IndexName"] = self.status_index
            request["ExpressionAttributeNames"]["#pk"] = "ownerStatus"
            request["ExpressionAttributeValues"] = {":pk": {"S": partition}}
        start = decode_cursor(cursor, owner, status.value if status else None)
        last: dict[str, Any] | None = {k: {"S": v} for k, v in start.items()} if start else None
        items: list[dict[str, Any]] = []
        want = limit + 1  # one more than the page tells whether another page exists
        for _ in range(MAX_LIST_READS):
            page_request = {**request, "Limit": want - len(items)}
            if last:
                page_request["ExclusiveStartKey"] = last
            answer = self._db.query(**page_request)
            items += answer.get("Items", [])  # never more than asked: Limit bounds evaluated items
            last = answer.get("LastEvaluatedKey")
            if len(items) >= want or not last:
                break
        jobs = [Job.from_item(self._from_av(item)) for item in items[:limit]]
        if len(items) > limit:  # a full page and at least one more job: continue after the last shown
            tail = items[limit - 1]
            next_cursor = encode_cursor({"jobId": tail["jobId"]["S"], partition_attr: partition,
                                         "createdAt": tail["createdAt"]["S"]})
        elif last:  # MAX_LIST_READS spent on filtered-out items: a short page, continue there
            next_cursor = encode_cursor({k: v["S"] for k, v in last.items()})
        else:
            next_cursor = None
        return jobs, next_cursor

    def count_active(self, owner: str) -> int:
        total = 0
        for status in (JobStatus.QUEUED, JobStatus.PROCESSING):
            request: dict[str, Any] = {
                "TableName": self.table_name, "IndexName": self.status_index, "Select": "COUNT",
                "KeyConditionExpression": "ownerStatus = :pk",
                "ExpressionAttributeValues": {":pk": {"S": owner_status(owner, status.value)}},
            }
            while True:
                answer = self._db.query(**request)
                total += int(answer.get("Count", 0))
                if "LastEvaluatedKey" not in answer:
                    break
                request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return total

    def created_since(self, owner: str, since: str, limit: int) -> list[str]:
        answer = self._db.query(
            TableName=self.table_name, IndexName=self.owner_index, Limit=limit, ScanIndexForward=True,
            KeyConditionExpression="#owner = :owner AND createdAt >= :since",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":owner": {"S": owner}, ":since": {"S": since}},
            ProjectionExpression="createdAt",
        )
        return [item["createdAt"]["S"] for item in answer.get("Items", [])]

    def reachable(self) -> None:
        self._db.describe_table(TableName=self.table_name)

    def list_stale(self, status: JobStatus, updated_before: str, limit: int) -> list[Job]:
        # A paginated, filtered Scan: the sweeper runs every few minutes and the
        # table holds one item per live job (deleted jobs are removed); a sparse index of
        # running jobs would replace it if the table grew large.
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "#status = :status AND #updatedAt < :before",
            "ExpressionAttributeNames": {"#status": "status", "#updatedAt": "updatedAt"},
            "ExpressionAttributeValues": self._to_av({":status": status.value, ":before": updated_before}),
        }
        found: list[Job] = []
        for page in self._db.get_paginator("scan").paginate(**request):
            found.extend(Job.from_item(self._from_av(item)) for item in page.get("Items", []))
            if len(found) >= limit:
                break
        return found[:limit]

    def delete(self, job_id: str) -> None:
        try:
            self._db.delete_item(
                TableName=self.table_name,
                Key={"jobId": {"S": job_id}},
                ConditionExpression="#status = :deleted",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":deleted": {"S": JobStatus.DELETED.value}},
            )
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise


def _add_updates(updates: dict[str, Any] | None, sets: list[str], names: dict[str, str],
                 values: dict[str, Any]) -> None:
    """SET clauses for the caller's extra attributes, with placeholder names and values."""
    for i, (name, value) in enumerate((updates or {}).items()):
        names[f"#u{i}"] = name
        values[f":u{i}"] = value
        sets.append(f"#u{i} = :u{i}")
