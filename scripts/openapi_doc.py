"""Writes docs/openapi.yaml from the API functions' own routes, request models and declared
responses (``oculus_shared.responses``). The functions are the ones ``template.yaml`` gives
``Api`` events; Powertools generates one document per function and this merges them, adds
the Cognito security scheme and describes every error answer as the one error envelope.

    .venv/bin/python scripts/openapi_doc.py [--check]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "openapi.yaml"
REF = "#/components/schemas/"
#: Powertools' own error schemas, replaced by ours: every error answer is the ErrorEnvelope
POWERTOOLS_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
ERROR_DESCRIPTIONS = {
    "422": "The request is not valid (error.fields names each offending field)",
    "500": "An unexpected error (a bug), including an answer that does not fit its declared response",
}


def api_functions(template: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    """``{lambdas/<name> folder: {(path, method) routes that need no authorizer}}`` for every
    function with an ``Api`` event."""
    api_auth = template["Resources"].get("Api", {}).get("Properties", {}).get("Auth", {})
    functions: dict[str, set[tuple[str, str]]] = {}
    for resource in template["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        events = [e["Properties"] for e in resource["Properties"].get("Events", {}).values() if e["Type"] == "Api"]
        if not events:
            continue
        public = functions.setdefault(resource["Properties"]["CodeUri"].strip("/").split("/")[-1], set())
        for event in events:
            authorizer = event.get("Auth", {}).get("Authorizer", api_auth.get("DefaultAuthorizer"))
            if authorizer in (None, "NONE"):
                public.add((event["Path"], event["Method"].lower()))
    return functions


def _load_app(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"openapi_{name}", ROOT / "lambdas" / name / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def _error_envelope() -> dict[str, Any]:
    from pydantic import TypeAdapter

    from oculus_shared.responses import ErrorEnvelope

    schema = TypeAdapter(ErrorEnvelope).json_schema(ref_template=REF + "{model}")
    defs = schema.pop("$defs", {})
    return {**defs, "ErrorEnvelope": schema}


def _describe_errors(responses: dict[str, Any]) -> None:
    """Every error answer is the ErrorEnvelope (Powertools describes its own shapes)."""
    for code, response in responses.items():
        if code.isdigit() and int(code) >= 400:
            response["description"] = ERROR_DESCRIPTIONS.get(code, response.get("description", "An error"))
            response["content"] = {"application/json": {"schema": {"$ref": REF + "ErrorEnvelope"}}}
        elif response.get("content") in ({}, {"application/json": {}}):  # a redirect: no body
            del response["content"]
    responses["default"] = {"description": "Any other error (4xx; a 5xx is a bug)",
                            "content": {"application/json": {"schema": {"$ref": REF + "ErrorEnvelope"}}}}


def build() -> dict[str, Any]:
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    for folder in (ROOT / "layers" / "shared" / "python", ROOT / "scripts" / "local"):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    from oculus_local.template import load_template

    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for name, public in sorted(api_functions(load_template(ROOT / "template.yaml")).items()):
        doc = json.loads(_load_app(name).get_openapi_json_schema(title="IRIS Oculus API", version="0.1.0"))
        for path, operations in doc.get("paths", {}).items():
            for method, operation in operations.items():
                operation["security"] = [] if (path, method) in public else [{"CognitoUserPool": []}]
                _describe_errors(operation.setdefault("responses", {}))
            paths.setdefault(path, {}).update(operations)
        schemas.update(doc.get("components", {}).get("schemas", {}))
    for name in POWERTOOLS_ERROR_SCHEMAS:
        schemas.pop(name, None)
    schemas.update(_error_envelope())
    return {
        "openapi": "3.1.0",  # Powertools emits 3.1 schemas (nullable as type null)
        "info": {"title": "IRIS Oculus API", "version": "0.1.0",
                 "description": "Generated from lambdas/*/app.py and oculus_shared.responses by "
                                "scripts/openapi_doc.py. Errors are {ok: false, error: {code, message}}; "
                                "another user's job is a 404."},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": {
            "CognitoUserPool": {"type": "apiKey", "name": "Authorization", "in": "header",
                                "description": "Cognito ID token (the API's Cognito user pool authorizer)"}}},
    }


def render() -> str:
    import yaml

    return yaml.safe_dump(build(), sort_keys=False, width=100)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true", help="fail if docs/openapi.yaml is out of date")
    args = parser.parse_args()
    text = render()
    if args.check:
        current = TARGET.exists() and TARGET.read_text() == text
        if not current:
            print(f"{TARGET.relative_to(ROOT)} is out of date: run scripts/openapi_doc.py", file=sys.stderr)
        return 0 if current else 1
    TARGET.write_text(text)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
