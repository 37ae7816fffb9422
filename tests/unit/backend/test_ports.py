"""Every adapter and every in-memory fake offers each method of its port with the port's
parameters, so the fakes the service tests use cannot drift from the production adapters."""

from __future__ import annotations

import inspect

import pytest

from oculus_shared import ports
from oculus_shared.blob_store import S3BlobStore
from oculus_shared.invoker import SageMakerAsyncInvoker
from oculus_shared.job_store import DynamoJobStore

from .fakes import FakeInvoker, InMemoryBlobStore, InMemoryJobStore

IMPLEMENTATIONS = [
    (ports.JobStore, DynamoJobStore), (ports.JobStore, InMemoryJobStore),
    (ports.BlobStore, S3BlobStore), (ports.BlobStore, InMemoryBlobStore),
    (ports.Invoker, SageMakerAsyncInvoker), (ports.Invoker, FakeInvoker),
]


def _methods(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(fn) for name, fn in vars(cls).items()
            if callable(fn) and not name.startswith("_")}


@pytest.mark.parametrize(("port", "implementation"), IMPLEMENTATIONS, ids=lambda c: c.__name__)
def test_implementations_offer_every_method_of_their_port(port, implementation):
    for name, wanted in _methods(port).items():
        assert hasattr(implementation, name), f"{implementation.__name__} lacks {name}"
        got = inspect.signature(getattr(implementation, name))
        assert [(p.name, p.kind) for p in got.parameters.values()] == [
            (p.name, p.kind) for p in wanted.parameters.values()], f"{implementation.__name__}.{name}{got} != {wanted}"
