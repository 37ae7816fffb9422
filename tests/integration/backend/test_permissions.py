"""IAM as real AWS enforces it, checked without AWS (moto enforces none of it).

``oculus_shared.permissions`` is the explicit table of each function's AWS calls. Here it is
held three ways: every boto3 operation the adapters' code makes has rows (and no row names an
operation the code no longer makes); each function's role in template.yaml grants every row
on its resource and grants nothing no row needs (least privilege); the engine's role likewise.
The fourth hold is in conftest: every AWS call a handler really makes during the integration
tests must match a row of its function (``CallRecorder``).
"""

from __future__ import annotations

import ast
import fnmatch
import re
from typing import Any

import pytest

from oculus_shared.permissions import ENGINE_CALLS, FUNCTION_CALLS, Call

from .conftest import LAYER

ADAPTERS = ("blob_store.py", "job_store.py", "invoker.py")
_CLIENT_ATTRS = {"_s3": "s3", "_db": "dynamodb"}  # the adapters' client properties


# ------------------------------------------------------------------ the code's boto3 calls
def adapter_operations() -> set[str]:
    """``service.operation`` of every boto3 call in the adapters, read from their source."""
    found: set[str] = set()
    for name in ADAPTERS:
        tree = ast.parse((LAYER / "oculus_shared" / name).read_text())
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner, method = node.func.value, node.func.attr
            service = None
            if isinstance(owner, ast.Attribute) and owner.attr in _CLIENT_ATTRS:
                service = _CLIENT_ATTRS[owner.attr]
            elif (isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "client"
                  and owner.args and isinstance(owner.args[0], ast.Constant)):
                service = owner.args[0].value
            if service is None:
                continue
            if method in ("generate_presigned_url", "get_paginator"):
                operation = node.args[0].value  # type: ignore[attr-defined]
                found.add(f"{service}.presign:{operation}" if method == "generate_presigned_url"
                          else f"{service}.{operation}")
            else:
                found.add(f"{service}.{method}")
    return found


def table_operations() -> set[str]:
    rows = [row for rows in FUNCTION_CALLS.values() for row in rows]
    return {row.operation for row in rows if not row.operation.startswith("powertools.")}


def test_every_boto3_operation_of_the_adapters_has_rows_and_every_row_a_call():
    in_code, in_table = adapter_operations(), table_operations()
    assert in_code, "no boto3 calls found: has the adapters' client access changed?"
    assert in_code - in_table == set(), "calls without a permission row"
    assert in_table - in_code == set(), "rows for calls the code no longer makes"


# ------------------------------------------------------------------ the template's grants
def _symbol(value: Any) -> str:
    """A template resource expression as the table names it: ``DataBucket/uploads/*``."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        target = target.split(".") if isinstance(target, str) else target
        assert target[1] == "Arn", value
        return target[0]
    if isinstance(value, dict) and "Ref" in value:
        return value["Ref"]
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        assert isinstance(text, str), value
        return re.sub(r"\$\{(\w+)\.Arn\}", r"\1", text)
    raise AssertionError(f"unexpected resource expression {value!r}")


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants(statements: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(action, resource) pairs; ListBucket under an s3:prefix condition becomes
    ``Bucket?prefix=uploads/`` per allowed prefix."""
    out = set()
    for st in statements:
        assert st.get("Effect") == "Allow", st
        prefixes = [p.rstrip("*") for p in _listify(
            st.get("Condition", {}).get("StringLike", {}).get("s3:prefix", []))]
        assert set(st.get("Condition", {})) <= {"StringLike"}, st
        for action in _listify(st["Action"]):
            for resource in _listify(st["Resource"]):
                symbol = _symbol(resource)
                if prefixes:
                    assert action == "s3:ListBucket", st
                    out |= {(action, f"{symbol}?prefix={p}") for p in prefixes}
                else:
                    out.add((action, symbol))
    return out


def function_statements(template: dict[str, Any], name: str) -> list[dict[str, Any]]:
    statements = []
    for policy in template["Resources"][name]["Properties"].get("Policies", []):
        assert set(policy) == {"Statement"}, (
            f"{name}: use explicit statements, not SAM policy templates such as {sorted(policy)} "
            "(DynamoDBCrudPolicy grants Scan, BatchWrite and DeleteItem the code never needs)")
        statements += policy["Statement"]
    return statements


def engine_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    role = template["Resources"]["SageMakerExecutionRole"]["Properties"]
    statements = [st for policy in role["Policies"] for st in policy["PolicyDocument"]["Statement"]]
    # pulling the image, logs and metrics are SageMaker's own needs, outside the data plane
    return [st for st in statements if not any(str(a).split(":")[0] in ("ecr", "logs", "cloudwatch")
                                               for a in _listify(st["Action"]))]


def _covers(granted: tuple[str, str], row: Call) -> bool:
    action, resource = granted
    if not fnmatch.fnmatchcase(row.action, action):
        return False
    if "?prefix=" in row.resource or "?prefix=" in resource:
        return "?prefix=" in row.resource and "?prefix=" in resource and row.resource.startswith(resource)
    return fnmatch.fnmatchcase(row.resource, resource)


def check_role(rows: tuple[Call, ...], granted: set[tuple[str, str]]) -> tuple[list[Call], list[tuple[str, str]]]:
    missing = [row for row in rows if not any(_covers(g, row) for g in granted)]
    unused = [g for g in granted if not any(_covers(g, row) for row in rows)]
    return missing, unused


def test_every_function_of_the_template_has_a_row_set(template):
    functions = {name for name, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    assert functions == set(FUNCTION_CALLS)


@pytest.mark.parametrize("function", sorted(FUNCTION_CALLS))
def test_the_role_grants_each_call_on_its_resource_and_nothing_more(template, function):
    missing, unused = check_role(FUNCTION_CALLS[function], grants(function_statements(template, function)))
    assert missing == [], f"{function}: template.yaml does not grant these calls"
    assert unused == [], f"{function}: template.yaml grants what no call needs"


def test_the_engine_reads_only_its_inputs_and_publishes_only_its_notifications(template):
    missing, unused = check_role(ENGINE_CALLS, grants(engine_statements(template)))
    assert missing == [] and unused == []
    assert ("s3:GetObject", "DataBucket/results/*") not in grants(engine_statements(template))


def test_the_check_notices_a_missing_listbucket_and_an_unneeded_grant():
    rows = FUNCTION_CALLS["UploadFunction"]
    granted = {(r.action, r.resource) for r in rows}
    missing, _ = check_role(rows, granted - {("s3:ListBucket", "DataBucket?prefix=uploads/")})
    assert [r.action for r in missing] == ["s3:ListBucket"] * 2
    _, unused = check_role(rows, granted | {("dynamodb:Scan", "JobTable")})
    assert unused == [("dynamodb:Scan", "JobTable")]


def test_health_may_head_the_bucket_which_needs_listbucket_without_a_prefix(template):
    assert ("s3:ListBucket", "DataBucket") in grants(function_statements(template, "HealthFunction"))


def permission_table_markdown() -> str:
    """The table as a reviewer reads it (printed with ``-s``)."""
    lines = ["| function | boto3 call | IAM action | resource |", "|---|---|---|---|"]
    for function, rows in {**FUNCTION_CALLS, "SageMakerExecutionRole": ENGINE_CALLS}.items():
        lines += [f"| {function} | {r.operation} | {r.action} | {r.resource} |" for r in rows]
    return "\n".join(lines)


def test_print_the_table(capsys):
    table = permission_table_markdown()
    with capsys.disabled():
        print("\n" + table)
    assert table.count("\n") > 40

