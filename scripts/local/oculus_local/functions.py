"""The template's Lambda functions, imported and called in this process as Lambda would.

Each ``AWS::Serverless::Function`` becomes a :class:`LocalFunction`: its ``CodeUri``/``Handler``
are imported from the repository with the layers' ``python/`` folders on ``sys.path``, and each
call runs with the function's own environment (``Globals`` merged with its ``Environment``)
and a LambdaContext-like object. Calls are serialised because the environment is per process.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .template import Resolver, TemplateError

log = logging.getLogger("oculus_local.functions")

FUNCTION_TYPES = ("AWS::Serverless::Function",)
_env_lock = threading.RLock()


class FakeLambdaContext:
    """The attributes and method Powertools and handlers read from Lambda's context."""

    def __init__(self, function: LocalFunction) -> None:
        self.function_name = function.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = function.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self._deadline = time.monotonic() + function.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class LocalFunction:
    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout_s: int
    memory_mb: int
    events: dict[str, dict]
    layer_paths: list[Path] = field(default_factory=list)
    _callable: Any = None

    def load(self) -> None:
        """Import the handler module (a cold start) under this function's environment."""
        module_name, _, attr = self.handler.rpartition(".")
        path = self.code_dir / (module_name.replace(".", "/") + ".py")
        if not path.is_file():
            raise TemplateError(f"{self.logical_id}: handler file {path} does not exist")
        for layer in self.layer_paths:
            if str(layer) not in sys.path:
                sys.path.insert(0, str(layer))
        spec = importlib.util.spec_from_file_location(f"oculus_local_fn_{self.logical_id}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        # Registered like any imported module: type hints (pydantic, Powertools validation)
        # are resolved through sys.modules[module.__name__].
        sys.modules[spec.name] = module
        with self.environment_applied():
            sys.path.insert(0, str(self.code_dir))  # siblings of app.py import as on Lambda
            try:
                spec.loader.exec_module(module)
            finally:
                sys.path.remove(str(self.code_dir))
        self._callable = getattr(module, attr)

    @contextmanager
    def environment_applied(self) -> Iterator[None]:
        # Only this function's keys change and come back: other threads keep reading a
        # complete environment (never cleared, even for an instant).
        overlay = {**self.environment, "AWS_LAMBDA_FUNCTION_NAME": self.name}
        with _env_lock:
            saved = {key: os.environ.get(key) for key in overlay}
            os.environ.update(overlay)
            try:
                yield
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value

    def invoke(self, event: dict) -> Any:
        if self._callable is None:
            self.load()
        with self.environment_applied():
            return self._callable(event, FakeLambdaContext(self))


def discover_functions(template: dict, resolver: Resolver, repo_root: Path) -> dict[str, LocalFunction]:
    """Every serverless function of the template whose condition holds, ready to load."""
    globals_fn = (template.get("Globals") or {}).get("Function") or {}
    global_env = resolver.resolve((globals_fn.get("Environment") or {}).get("Variables") or {})
    layers = _layer_dirs(template, resolver, repo_root)
    functions = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") not in FUNCTION_TYPES:
            continue
        if resource.get("Condition") and not resolver.condition(resource["Condition"]):
            continue
        props = resource.get("Properties") or {}
        env = dict(global_env)
        env.update(resolver.resolve((props.get("Environment") or {}).get("Variables") or {}))
        code_uri = resolver.resolve(props.get("CodeUri", globals_fn.get("CodeUri", ".")))
        layer_ids = [_layer_logical_id(x) for x in props.get("Layers", globals_fn.get("Layers", []))]
        name = resolver.refs.get(logical_id) or f"{resolver.stack_name}-{logical_id}"
        functions[logical_id] = LocalFunction(
            logical_id=logical_id,
            name=name,
            arn=f"arn:aws:lambda:{resolver.region}:{resolver.account_id}:function:{name}",
            code_dir=(repo_root / code_uri).resolve(),
            handler=resolver.resolve(props.get("Handler", globals_fn.get("Handler", "app.lambda_handler"))),
            environment={k: str(v) for k, v in env.items()},
            timeout_s=int(resolver.resolve(props.get("Timeout", globals_fn.get("Timeout", 3)))),
            memory_mb=int(resolver.resolve(props.get("MemorySize", globals_fn.get("MemorySize", 128)))),
            events=props.get("Events") or {},
            layer_paths=[layers[lid] for lid in layer_ids if lid in layers],
        )
    return functions


def _layer_logical_id(value: Any) -> str | None:
    return value.get("Ref") if isinstance(value, dict) else None


def _layer_dirs(template: dict, resolver: Resolver, repo_root: Path) -> dict[str, Path]:
    """Python layers put ``<ContentUri>/python`` on the path, as Lambda's /opt/python."""
    dirs = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") not in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
            continue
        props = resource.get("Properties") or {}
        content = props.get("ContentUri") or (props.get("Content") or {}).get("S3Key")
        if not isinstance(content, str):
            continue
        base = (repo_root / content).resolve()
        dirs[logical_id] = base / "python" if (base / "python").is_dir() else base
    return dirs
