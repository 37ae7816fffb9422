"""In-memory fakes of the backend's ports (``oculus_shared.ports``), for unit tests of the use
cases in ``oculus_shared.service`` that need no AWS and no moto. They fake our own narrow
interfaces, never boto3, and keep each port's written contract: conditional transitions
(the state machine's sources, the owner), another user's or a deleted job reads as missing,
listing newest first without deleted jobs, cursors bound to owner and status (through the
product's own ``cursor`` module). ``tests/integration/backend/test_store_contract.py`` runs
the same contract checks against these fakes and the DynamoDB/S3 adapters on moto."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from oculus_shared.cursor import decode_cursor, encode_cursor, owner_status
from oculus_shared.errors import InvalidTransition, NotFound
from oculus_shared.jobs import Job, JobStatus, check_transition, utc_now
from oculus_shared.keys import parse_s3_uri
from oculus_shared.ports import StoredObject


class InMemoryJobStore:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.broken = False

    def put_new(self, job: Job) -> None:
        assert job.job_id not in self.items, "job ids are fresh"
        self.items[job.job_id] = copy.deepcopy(job.to_item())

    def get(self, job_id: str) -> Job | None:
        item = self.items.get(job_id)
        return Job.from_item(copy.deepcopy(item)) if item else None

    def get_owned(self, owner: str, job_id: str) -> Job:
        job = self.get(job_id)
        if job is None or job.owner != owner or job.status is JobStatus.DELETED:
            raise NotFound("no such job", code="job_not_found")
        return job

    def transition(self, job_id: str, target: JobStatus, *, owner: str | None = None,
                   updates: dict[str, Any] | None = None) -> Job:
        item = self.items.get(job_id)
        if item is None or (owner is not None and item["owner"] != owner):
            raise NotFound("no such job", code="job_not_found")
        check_transition(JobStatus(item["status"]), target)  # the store's condition: the allowed sources
        item.update(copy.deepcopy(updates or {}), status=target.value, updatedAt=utc_now())
        return Job.from_item(copy.deepcopy(item))

    def requeue(self, job_id: str, *, owner: str, retries: int, updates: dict[str, Any] | None = None) -> Job:
        item = self.items.get(job_id)
        if item is None or item["owner"] != owner:
            raise NotFound("no such job", code="job_not_found")
        running = item["status"] in (JobStatus.QUEUED.value, JobStatus.PROCESSING.value)
        if not running or item.get("retries", 0) != retries:
            raise InvalidTransition(f"a {item['status']} job retried {item.get('retries', 0)} times cannot be re-queued")
        item.update(copy.deepcopy(updates or {}), status=JobStatus.QUEUED.value, retries=retries + 1,
                    updatedAt=utc_now())
        return Job.from_item(copy.deepcopy(item))

    def list_by_owner(self, owner: str, *, limit: int, cursor: str | None,
                      status: JobStatus | None) -> tuple[list[Job], str | None]:
        start = decode_cursor(cursor, owner, status.value if status else None)
        mine = [i for i in self.items.values() if i["owner"] == owner
                and (i["status"] == status.value if status else i["status"] != JobStatus.DELETED.value)]
        mine.sort(key=lambda i: (i["createdAt"], i["jobId"]), reverse=True)
        if start:
            after = (start["createdAt"], start["jobId"])
            mine = [i for i in mine if (i["createdAt"], i["jobId"]) < after]
        page = mine[:limit]
        if len(mine) <= limit:
            return [Job.from_item(copy.deepcopy(i)) for i in page], None
        last = page[-1]
        partition = {"owner": owner} if status is None else {"ownerStatus": owner_status(owner, status.value)}
        next_cursor = encode_cursor({"jobId": last["jobId"], "createdAt": last["createdAt"], **partition})
        return [Job.from_item(copy.deepcopy(i)) for i in page], next_cursor

    def delete(self, job_id: str) -> None:
        if self.items.get(job_id, {}).get("status") == JobStatus.DELETED.value:
            del self.items[job_id]

    def count_active(self, owner: str) -> int:
        active = {JobStatus.QUEUED.value, JobStatus.PROCESSING.value}
        return sum(1 for i in self.items.values() if i["owner"] == owner and i["status"] in active)

    def created_since(self, owner: str, since: str, limit: int) -> list[str]:
        return sorted(i["createdAt"] for i in self.items.values()
                      if i["owner"] == owner and i["createdAt"] >= since)[:limit]

    def list_stale(self, status: JobStatus, updated_before: str, limit: int) -> list[Job]:
        stale = [i for i in self.items.values() if i["status"] == status.value and i["updatedAt"] < updated_before]
        return [Job.from_item(copy.deepcopy(i)) for i in stale[:limit]]

    def reachable(self) -> None:
        if self.broken:
            raise ConnectionError("job store unreachable")


class InMemoryBlobStore:
    def __init__(self, bucket: str = "fake-bucket") -> None:
        self.bucket = bucket
        self.objects: dict[str, bytes] = {}
        self.multipart: dict[str, dict[str, Any]] = {}  # uploadId -> {key, parts: {n: bytes}}
        self.broken = False

    def presign_put(self, key: str, ttl: int, size: int) -> str:
        return f"https://fake/{self.bucket}/{key}?put&ttl={ttl}&length={size}"

    def start_multipart(self, key: str, size: int, part_bytes: int, ttl: int) -> dict[str, Any]:
        upload_id = f"mpu-{len(self.multipart) + 1}"
        self.multipart[upload_id] = {"key": key, "parts": {}}
        count = -(-size // part_bytes)
        parts = [{"partNumber": n, "url": f"https://fake/{key}?part={n}&ttl={ttl}"
                  f"&length={min(part_bytes, size - (n - 1) * part_bytes)}"} for n in range(1, count + 1)]
        return {"uploadId": upload_id, "partSize": part_bytes, "parts": parts}

    def upload_part(self, upload_id: str, number: int, data: bytes) -> str:
        """What a client does with a part URL; returns the part's ETag."""
        self.multipart[upload_id]["parts"][number] = data
        return f'"etag-{number}"'

    def complete_multipart(self, key: str, upload_id: str, parts: list[dict[str, Any]] | None,
                           expected_parts: int) -> bool:
        upload = self.multipart.get(upload_id)
        if upload is None or upload["key"] != key:
            return False
        numbers = sorted(int(p["partNumber"]) for p in parts) if parts else sorted(upload["parts"])
        if len(numbers) != expected_parts or any(n not in upload["parts"] for n in numbers):
            return False
        self.objects[key] = b"".join(upload["parts"][n] for n in numbers)
        del self.multipart[upload_id]
        return True

    def abort_multipart(self, key: str, upload_id: str) -> None:
        self.multipart.pop(upload_id, None)

    def head(self, key: str) -> StoredObject | None:
        if key not in self.objects:
            return None
        return StoredObject(len(self.objects[key]), f'"{hashlib.md5(self.objects[key]).hexdigest()}"')  # noqa: S324 - S3's ETag

    def read_head(self, key: str, length: int) -> bytes:
        return self.objects[key][:length]

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.objects[key] = bytes(data)

    def put_json(self, key: str, document: Any) -> None:
        self.put_bytes(key, json.dumps(document).encode(), "application/json")

    def read_json(self, key: str) -> Any | None:
        return json.loads(self.objects[key]) if key in self.objects else None

    def read_json_uri(self, uri: str) -> Any | None:
        bucket, key = parse_s3_uri(uri)
        if bucket != self.bucket:
            raise ValueError("refusing to read outside the data bucket")
        return self.read_json(key)

    def presign_get(self, key: str, ttl: int, download_name: str) -> str:
        return f"https://fake/{self.bucket}/{key}?get&ttl={ttl}&name={download_name}"

    def delete_prefix(self, prefix: str) -> int:
        doomed = [k for k in self.objects if k.startswith(prefix)]
        for key in doomed:
            del self.objects[key]
        return len(doomed)

    def delete_key(self, key: str) -> None:
        self.objects.pop(key, None)

    def reachable(self) -> None:
        if self.broken:
            raise ConnectionError("blob store unreachable")


class FakeInvoker:
    """Records invocations; ``fail`` makes the next ones raise; ``state`` is the endpoint."""

    def __init__(self, instances: int = 1, status: str = "InService") -> None:
        self.invocations: list[tuple[str, str]] = []
        self.fail = False
        self.status, self.instances = status, instances

    def invoke(self, job_id: str, manifest_uri: str) -> str:
        if self.fail:
            raise ConnectionError("endpoint refused the request")
        self.invocations.append((job_id, manifest_uri))
        return f"s3://out/{job_id}.out"

    def endpoint_state(self) -> dict[str, Any]:
        healthy = self.status == "InService"
        return {"status": self.status, "instances": self.instances,
                "scaledToZero": healthy and self.instances == 0, "healthy": healthy}
