"""Opaque pagination cursors: DynamoDB's LastEvaluatedKey, base64url JSON, bound to the owner
so a cursor from one user cannot page through another's index."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .errors import BadRequest

_KEYS = {"jobId", "owner", "createdAt"}


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    raw = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, owner: str) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("the cursor is not valid", code="invalid_cursor") from exc
    if not isinstance(key, dict) or set(key) != _KEYS or not all(isinstance(v, str) for v in key.values()):
        raise BadRequest("the cursor is not valid", code="invalid_cursor")
    if key["owner"] != owner:
        raise BadRequest("the cursor is not valid", code="invalid_cursor")
    return key
