"""Object storage: the S3 adapter of ``ports.BlobStore`` (presigned URLs, multipart,
range reads for sniffing, JSON documents, prefix deletion)."""

from __future__ import annotations

import json
import math
from typing import Any

from .aws import client, error_code
from .keys import parse_s3_uri
from .ports import StoredObject

_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}


class S3BlobStore:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    @property
    def _s3(self) -> Any:
        return client("s3")

    # -- uploads -------------------------------------------------------------------------
    def presign_put(self, key: str, ttl: int, size: int) -> str:
        # ContentLength is signed (X-Amz-SignedHeaders has content-length): S3 refuses a body
        # of any other length, so the URL cannot store more than was declared and checked.
        return self._s3.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": key, "ContentLength": size}, ExpiresIn=ttl
        )

    def start_multipart(self, key: str, size: int, part_bytes: int, ttl: int) -> dict[str, Any]:
        upload_id = self._s3.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        count = math.ceil(size / part_bytes)
        parts = [
            {
                "partNumber": n,
                "url": self._s3.generate_presigned_url(
                    "upload_part",
                    Params={"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": n,
                            "ContentLength": min(part_bytes, size - (n - 1) * part_bytes)},
                    ExpiresIn=ttl,
                ),
            }
            for n in range(1, count + 1)
        ]
        return {"uploadId": upload_id, "partSize": part_bytes, "parts": parts}

    def complete_multipart(
        self, key: str, upload_id: str, parts: list[dict[str, Any]] | None, expected_parts: int
    ) -> bool:
        """Complete an upload; the part list comes from the client (ETags) or from S3.
        False when S3 knows no such upload or parts are missing/wrong."""
        try:
            if not parts:
                listed = self._s3.list_parts(Bucket=self.bucket, Key=key, UploadId=upload_id, MaxParts=10000)
                parts = [{"partNumber": p["PartNumber"], "etag": p["ETag"]} for p in listed.get("Parts", [])]
            if len(parts) != expected_parts:  # never assemble a truncated file
                return False
            self._s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [
                        {"PartNumber": int(p["partNumber"]), "ETag": str(p["etag"])}
                        for p in sorted(parts, key=lambda p: int(p["partNumber"]))
                    ]
                },
            )
            return True
        except Exception as exc:
            if error_code(exc) in _MISSING | {"InvalidPart", "InvalidPartOrder", "EntityTooSmall"}:
                return False
            raise

    def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            self._s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except Exception as exc:
            if error_code(exc) not in _MISSING:
                raise

    # -- objects -------------------------------------------------------------------------
    def head(self, key: str) -> StoredObject | None:
        try:
            answer = self._s3.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if error_code(exc) in _MISSING:
                return None
            raise
        return StoredObject(size=int(answer["ContentLength"]), etag=str(answer["ETag"]))

    def read_head(self, key: str, length: int) -> bytes:
        answer = self._s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{length - 1}")
        return answer["Body"].read()

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def put_json(self, key: str, document: Any) -> None:
        self.put_bytes(key, json.dumps(document).encode(), "application/json")

    def read_json(self, key: str) -> Any | None:
        """A JSON document, or None when the object does not exist."""
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except Exception as exc:
            if error_code(exc) in _MISSING:
                return None
            raise
        return json.loads(body)

    def read_json_uri(self, uri: str) -> Any | None:
        bucket, key = parse_s3_uri(uri)
        if bucket != self.bucket:
            raise ValueError("refusing to read outside the data bucket")
        return self.read_json(key)

    def presign_get(self, key: str, ttl: int, download_name: str) -> str:
        return self._s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentDisposition": f'attachment; filename="{download_name}"',
            },
            ExpiresIn=ttl,
        )

    def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
        return deleted

    def delete_key(self, key: str) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=key)

    def reachable(self) -> None:
        self._s3.head_bucket(Bucket=self.bucket)
