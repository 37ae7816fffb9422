"""Lazily created boto3 clients, cached per process (one per service for a warm Lambda).

botocore reads ``AWS_ENDPOINT_URL`` itself, so the same code talks to a moto server locally.
"""

from __future__ import annotations

import os
from typing import Any

CONNECT_TIMEOUT_S, READ_TIMEOUT_S, MAX_ATTEMPTS = 3, 8, 2
_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    if service not in _clients:
        import boto3  # imported on first use: keeps handler import (cold start) cheap
        from botocore.config import Config

        s3_options = {"addressing_style": "path"} if os.environ.get("AWS_ENDPOINT_URL") else {}
        config = Config(
            signature_version="s3v4" if service == "s3" else None,
            s3=s3_options or None,
            # Every call must fail inside the API's 29 s Lambda timeout, never leave a handler
            # killed half-way (botocore's default is 60 s read x 3 attempts):
            # (3 s connect + 8 s read) x 2 attempts = 22 s at worst.
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=READ_TIMEOUT_S,
            retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
        )
        _clients[service] = boto3.client(service, config=config)
    return _clients[service]


def reset_clients() -> None:
    """Forget cached clients (tests switch endpoints between cases)."""
    _clients.clear()


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))
