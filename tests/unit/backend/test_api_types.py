"""The web app's wire types (frontend/src/api/types.ts) against the API's schema
(docs/openapi.yaml, generated from the backend's declared responses and request models):
every field the schema names is declared in the matching TypeScript interface, and the
enumerations list the same values. types.ts stays hand-written and readable; this keeps it true."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
TYPES_TS = ROOT / "frontend" / "src" / "api" / "types.ts"

#: schema (docs/openapi.yaml) -> interface (types.ts)
INTERFACES = {
    "JobView": "Job",
    "InputView": "JobInput",
    "FileView": "JobFile",
    "ErrorDetail": "ApiErrorBody",
    "ErrorBody": "ApiErrorBody",
    "FieldError": "ApiFieldError",
    "JobList": "JobList",
    "JobAnswer": "JobAnswer",
    "UploadCreated": "CreateUploadResponse",
    "PutUpload": "SinglePutUpload",
    "MultipartUpload": "MultipartUploadOffer",
    "InlineUpload": "InlineUpload",
    "ProcessAccepted": "ProcessAccepted",
    "FileUrl": "FileUrl",
    "JobDeleted": "JobDeleted",
    "DependencyCheck": "DependencyCheck",
    "Health": "Health",
    "ModelInfo": "ModelInfoResponse",
    "ModelAbTest": "ModelAbTest",
    "ClassificationResult": "ClassifyResult",
    "ClassProbability": "ClassProbability",
    "ModelVersionRef": "ModelVersionRef",
    "TotalsegRequest": "TotalsegOptions",
    "Capabilities": "Capabilities",
    "TotalSegmentatorCapabilities": "TotalSegmentatorCapabilities",
    "TotalSegmentatorTask": "TotalSegmentatorTask",
}
#: schema enum -> string-literal union type in types.ts
ENUMS = {"JobStatus": "JobStatus", "JobKind": "JobKind", "Task": "JobTask"}
#: on every answer (true, or false with ``error``); the client checks the HTTP status instead
ENVELOPE = {"ok"}
#: request bodies the client builds inline, the error envelope (the client reads ``error``), and
#: objects types.ts declares inline (Health.checks, MultipartUploadOffer.parts)
NOT_MAPPED = {"UploadRequest", "CompleteUploadRequest", "CompletedPart", "ClassifyRequest", "ErrorEnvelope",
              "HealthChecks", "PartUrl"}
#: sent beside the options (``{jobId, ...options}``), not one of them
NOT_OPTIONS = {"TotalsegRequest": {"jobId"}}


@lru_cache(maxsize=1)
def _schemas() -> dict:
    return yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())["components"]["schemas"]


def _body_of(source: str, opening: re.Match[str]) -> str:
    depth, start = 1, opening.end()
    for i in range(start, len(source)):
        depth += {"{": 1, "}": -1}.get(source[i], 0)
        if depth == 0:
            return source[start:i]
    raise AssertionError(f"unbalanced braces after {opening.group(0)!r}")


def interface_fields(source: str, name: str) -> set[str]:
    """Top-level property names of ``export interface name { ... }``."""
    opening = re.search(rf"export interface {name}\b[^{{]*\{{", source)
    assert opening, f"types.ts declares no interface {name}"
    body, fields, depth = _body_of(source, opening), set(), 0
    for line in body.splitlines():
        match = re.match(r"\s*(\w+)\??\s*:", line)
        if depth == 0 and match:
            fields.add(match.group(1))
        depth += line.count("{") + line.count("[") + line.count("(") - line.count("}") - line.count("]") - line.count(")")
    return fields


def union_values(source: str, name: str) -> set[str]:
    match = re.search(rf"export type {name}\s*=\s*([^;]+);", source)
    assert match, f"types.ts declares no type {name}"
    return set(re.findall(r"'([^']*)'", match.group(1)))


def test_the_parser_reads_nested_and_optional_fields():
    source = "export interface A extends B {\n  a: string;\n  b?: { c: number;\n d: string };\n  e: X[];\n}\n"
    assert interface_fields(source, "A") == {"a", "b", "e"}
    assert union_values("export type T = 'x' | 'y';", "T") == {"x", "y"}


@pytest.mark.parametrize(("schema", "interface"), sorted(INTERFACES.items()))
def test_every_field_of_the_schema_is_in_types_ts(schema, interface):
    properties = set(_schemas()[schema]["properties"]) - ENVELOPE - NOT_OPTIONS.get(schema, set())
    missing = properties - interface_fields(TYPES_TS.read_text(), interface)
    assert not missing, f"types.ts {interface} lacks {sorted(missing)} of the API's {schema}"


@pytest.mark.parametrize(("schema", "union"), sorted(ENUMS.items()))
def test_enumerations_match(schema, union):
    assert union_values(TYPES_TS.read_text(), union) == set(_schemas()[schema]["enum"])


def test_every_declared_response_is_mapped():
    """A new response model in the schema needs its TypeScript interface (and a line above)."""
    objects = {s for s, d in _schemas().items() if d.get("type") == "object" and "properties" in d}
    assert objects - NOT_MAPPED - set(INTERFACES) == set()
