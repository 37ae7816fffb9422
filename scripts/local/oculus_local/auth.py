"""Cognito user-pool authorizer, as API Gateway (REST) runs it, against moto's JWKS.

API Gateway verifies the token's RS256 signature with the pool's published keys, its issuer
and expiry; with no authorization scopes configured it takes an ID token, with scopes an
access token carrying one of them. The handler then sees every claim as a string under
``requestContext.authorizer.claims``.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from dataclasses import dataclass

import jwt

COGNITO_ISSUER = "https://cognito-idp.{region}.amazonaws.com/{pool_id}"
_TIME_CLAIMS = ("exp", "iat", "auth_time")


class AuthError(Exception):
    """The request carries no valid token for this route (API Gateway answers 401)."""


@dataclass(frozen=True)
class CognitoAuthorizer:
    name: str
    pool_id: str
    header: str = "Authorization"


class JwksCache:
    """The pool's signing keys, fetched from moto once and kept (as API Gateway caches them)."""

    def __init__(self, moto_endpoint: str) -> None:
        self.moto_endpoint = moto_endpoint.rstrip("/")
        self._keys: dict[str, jwt.PyJWKSet] = {}
        self._lock = threading.Lock()

    def url(self, pool_id: str) -> str:
        return f"{self.moto_endpoint}/{pool_id}/.well-known/jwks.json"

    def key_set(self, pool_id: str) -> jwt.PyJWKSet:
        with self._lock:
            if pool_id not in self._keys:
                with urllib.request.urlopen(self.url(pool_id), timeout=5) as response:  # noqa: S310 - loopback
                    self._keys[pool_id] = jwt.PyJWKSet.from_dict(json.load(response))
            return self._keys[pool_id]


def bearer_token(header_value: str | None) -> str:
    if not header_value:
        raise AuthError("no token")
    value = header_value.strip()
    if value.lower().startswith("bearer "):
        value = value[7:].strip()
    if not value:
        raise AuthError("no token")
    return value


def verify_token(token: str, authorizer: CognitoAuthorizer, jwks: JwksCache, region: str,
                 scopes: list[str] | None = None) -> dict:
    """The token's claims if it is valid for this authorizer; raises AuthError otherwise."""
    try:
        header = jwt.get_unverified_header(token)
        key_set = jwks.key_set(authorizer.pool_id)
        key = next((k for k in key_set.keys if k.key_id == header.get("kid")), None)
        if key is None:
            raise AuthError("unknown signing key")
        claims = jwt.decode(
            token, key=key.key, algorithms=["RS256"],
            issuer=COGNITO_ISSUER.format(region=region, pool_id=authorizer.pool_id),
            options={"verify_aud": False, "require": ["exp", "iss", "token_use"]},
        )
    except AuthError:
        raise
    except (jwt.PyJWTError, ValueError, OSError) as exc:
        raise AuthError(f"invalid token: {exc}") from exc
    if scopes:
        granted = set(str(claims.get("scope", "")).split())
        if claims.get("token_use") != "access" or not granted.intersection(scopes):
            raise AuthError("token lacks the required scope")
    elif claims.get("token_use") != "id":
        raise AuthError("an ID token is required")
    return claims


def claims_as_api_gateway_passes_them(claims: dict) -> dict[str, str]:
    """API Gateway hands claims to the function as strings (times as dates, booleans lower-case)."""
    out = {}
    for key, value in claims.items():
        if key in _TIME_CLAIMS and isinstance(value, int | float):
            out[key] = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(value))
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list):
            out[key] = "[" + " ".join(str(v) for v in value) + "]"
        else:
            out[key] = str(value)
    return out
