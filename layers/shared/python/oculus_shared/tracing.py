"""Tracing that costs nothing when it is off.

Powertools' ``Tracer()`` imports the X-Ray SDK on construction even when tracing is
disabled (``aws_xray_sdk.core`` pulls in botocore's session, waiters and docs, and
``patch_all`` then imports httpx, requests, sqlite3, ... just to patch them). That was
most of every handler's cold start. Here:

* tracing **off** (``POWERTOOLS_TRACE_DISABLED=true``, or outside Lambda / under SAM local:
  Powertools' own rule, ``Tracer._is_tracer_disabled``): a no-op tracer whose decorators
  return the function unchanged; the X-Ray SDK is never imported;
* tracing **on** (deployed with ``Tracing: Active``): the real Powertools ``Tracer``, patching
  only botocore (the one library the handlers call out through) instead of everything.

Handlers use it exactly like Powertools' tracer::

    tracer = make_tracer()

    @tracer.capture_method
    def f(): ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: libraries X-Ray instruments when tracing is on (every AWS call goes through botocore)
PATCHED_MODULES = ("botocore",)


def tracing_enabled() -> bool:
    # tracing.tracer itself is cheap: it loads the X-Ray SDK through a LazyLoader
    from aws_lambda_powertools.tracing.tracer import Tracer

    return not Tracer._is_tracer_disabled()


class NoopTracer:
    """Same decorator surface as Powertools' ``Tracer``; does nothing."""

    disabled = True

    def capture_method(self, method: Callable | None = None, **_: Any) -> Any:
        return method if method is not None else (lambda fn: fn)

    def capture_lambda_handler(self, lambda_handler: Callable | None = None, **_: Any) -> Any:
        return lambda_handler if lambda_handler is not None else (lambda fn: fn)

    def put_annotation(self, key: str, value: Any) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str | None = None) -> None:
        return None


def make_tracer() -> Any:
    """A Powertools ``Tracer`` when tracing is on, else a ``NoopTracer`` (no X-Ray import)."""
    if not tracing_enabled():
        return NoopTracer()
    from aws_lambda_powertools import Tracer

    return Tracer(patch_modules=PATCHED_MODULES)
