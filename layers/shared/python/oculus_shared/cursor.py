"""Opaque pagination cursors: DynamoDB's LastEvaluatedKey, base64url JSON, bound to the owner
(and, for a status-filtered listing, to that status) so a cursor from one user cannot page
through another's index, and a cursor of one listing cannot be replayed against another.

Two shapes, one per index: ``{jobId, owner, createdAt}`` (owner-index, unfiltered) and
``{jobId, ownerStatus, createdAt}`` (owner-status-index, ``ownerStatus = "{owner}#{status}"``)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .errors import BadRequest

_KEYS = {"jobId", "owner", "createdAt"}
_STATUS_KEYS = {"jobId", "ownerStatus", "createdAt"}


def owner_status(owner: str, status: str) -> str:
    """The owner-status-index partition key."""
    return f"{owner}#{status}"


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    raw = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, owner: str, status: str | None = None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("the cursor is not valid", code="invalid_cursor") from exc
    expected = _KEYS if status is None else _STATUS_KEYS
    if not isinstance(key, dict) or set(key) != expected or not all(isinstance(v, str) for v in key.values()):
        raise BadRequest("the cursor is not valid", code="invalid_cursor")
    partition = key["owner"] if status is None else key["ownerStatus"]
    if partition != (owner if status is None else owner_status(owner, status)):
        raise BadRequest("the cursor is not valid", code="invalid_cursor")
    return key
