"""Lazily created boto3 clients, cached per process (one per service for a warm Lambda).

botocore reads ``AWS_ENDPOINT_URL`` itself, so the same code talks to a moto server locally.
"""

from __future__ import annotations

import os
from typing import Any

_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    if service not in _clients:
        import boto3  # imported on first use: keeps handler import (cold start) cheap
        from botocore.config import Config

        s3_options = {"addressing_style": "path"} if os.environ.get("AWS_ENDPOINT_URL") else {}
        config = Config(
            signature_version="s3v4" if service == "s3" else None,
            s3=s3_options or None,
            retries={"max_attempts": 3, "mode": "standard"},
        )
        _clients[service] = boto3.client(service, config=config)
    return _clients[service]


def reset_clients() -> None:
    """Forget cached clients (tests switch endpoints between cases)."""
    _clients.clear()


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))
