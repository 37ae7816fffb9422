"""Writes docs/openapi.yaml from the handlers' own routes and pydantic models (Powertools
generates one document per function; this merges them and adds the Cognito security scheme).

    PYTHONPATH=layers/shared/python .venv/bin/python lambdas/openapi_doc.py [--check]
"""

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ("upload", "process", "jobs", "health")
PUBLIC = {("/healthz", "get")}


def build() -> dict:
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    sys.path.insert(0, str(ROOT / "layers" / "shared" / "python"))
    paths: dict = {}
    schemas: dict = {}
    for name in FUNCTIONS:
        spec = importlib.util.spec_from_file_location(f"openapi_{name}", ROOT / "lambdas" / name / "app.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        doc = json.loads(module.app.get_openapi_json_schema(title="IRIS Oculus API", version="0.1.0"))
        for path, operations in doc.get("paths", {}).items():
            for method, operation in operations.items():
                operation["security"] = [] if (path, method) in PUBLIC else [{"CognitoUserPool": []}]
            paths.setdefault(path, {}).update(operations)
        schemas.update(doc.get("components", {}).get("schemas", {}))
    error = {"type": "object", "required": ["ok", "error"], "properties": {
        "ok": {"type": "boolean", "enum": [False]},
        "error": {"type": "object", "required": ["code", "message"],
                  "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}
    schemas["ErrorEnvelope"] = error
    return {
        "openapi": "3.1.0",  # Powertools emits 3.1 schemas (nullable as type null)
        "info": {"title": "IRIS Oculus API", "version": "0.1.0",
                 "description": "Generated from lambdas/*/app.py by lambdas/openapi_doc.py. Errors are "
                                "{ok: false, error: {code, message}}; another user's job is a 404."},
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
    target = ROOT / "docs" / "openapi.yaml"
    text = render()
    if args.check:
        return 0 if target.exists() and target.read_text() == text else 1
    target.write_text(text)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
