"""Cold start of each Lambda handler: module import time and first-invocation time, each
against a baseline measured in the same run.

    nice -n 5 .venv/bin/python benchmarks/bench_cold_start.py [--repeat 5] [--tracing off|on]

Two figures per handler, each the median of --repeat fresh processes:

* **import**: ``python -X importtime -c "import app"``, the sum of the "self" times it
  reports (the whole import graph). Baseline: ``import boto3``. Target: < 300 ms here.
* **first invocation**: a fresh process times ``import app`` plus one real request
  (``app.lambda_handler`` with an API Gateway / SQS event) against a moto server on
  127.0.0.1, wall clock. Work a handler defers from import to its first request (boto3,
  clients, pydantic schemas) shows up here, so deferring cannot pass for a win. Baseline:
  ``import boto3`` plus one DynamoDB GetItem through a fresh client, timed the same way.

``--tracing off`` (default; local stack, tests, ``POWERTOOLS_TRACE_DISABLED=true``) or ``on``
(as deployed with ``Tracing: Active``: ``LAMBDA_TASK_ROOT`` and a sampled ``_X_AMZN_TRACE_ID``
are set, so Powertools' Tracer imports the X-Ray SDK and patches botocore; segments go to
the X-Ray daemon address 127.0.0.1:2000, where nothing listens).
Also checks that no heavy library (numpy, nibabel, TensorFlow, torch, scipy) is imported.
Exit status 1 when a handler's import is over the target or a request did not succeed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import socket
import statistics
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "layers" / "shared" / "python"
HANDLERS = ("upload", "process", "jobs", "health", "results")
HEAVY = ("numpy", "nibabel", "tensorflow", "torch", "scipy")
TARGET_MS = 300.0
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")
TABLE, IDEM, BUCKET, ENDPOINT, OWNER = "bench-jobs", "bench-idem", "bench-data", "bench-endpoint", "bench-user"

# Runs in the measured process: import, one request, and the two times as JSON on stdout.
_FIRST_CALL = r"""
import time
t0 = time.perf_counter()
import json, os
{body}
t2 = time.perf_counter()
print(json.dumps({{"import_ms": (t1 - t0) * 1000, "first_ms": (t2 - t0) * 1000, "status": status}}))
"""
_HANDLER_BODY = r"""
import app
t1 = time.perf_counter()
class Context:
    function_name = "bench"; function_version = "$LATEST"; memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"; aws_request_id = "r-1"
    def get_remaining_time_in_millis(self): return 29000
answer = app.lambda_handler(json.loads(os.environ["BENCH_EVENT"]), Context())
status = answer.get("statusCode", 200 if not answer.get("batchItemFailures") else 500)
"""
_BASELINE_BODY = r"""
import boto3
t1 = time.perf_counter()
boto3.client("dynamodb").get_item(TableName=os.environ["TABLE_NAME"], Key={"jobId": {"S": "0" * 32}})
status = 200
"""


def base_env(moto_url: str, tracing: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "_X_AMZN"))}
    env.pop("LAMBDA_TASK_ROOT", None)
    env.update({
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto_url, "TABLE_NAME": TABLE,
        "IDEMPOTENCY_TABLE_NAME": IDEM, "BUCKET_NAME": BUCKET, "ENDPOINT_NAME": ENDPOINT,
        "POWERTOOLS_SERVICE_NAME": "oculus", "POWERTOOLS_METRICS_NAMESPACE": "Bench", "POWERTOOLS_LOG_LEVEL": "WARNING",
    })
    if tracing == "on":
        env.update({"POWERTOOLS_TRACE_DISABLED": "false", "LAMBDA_TASK_ROOT": str(ROOT),
                    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000", "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR"})
    else:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    return env


def _trace_header() -> str:
    return f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=1"


def import_profile(env: dict[str, str], statement: str, path: list[Path]) -> tuple[float, set[str]]:
    run_env = {**env, "PYTHONPATH": os.pathsep.join(str(p) for p in path), "_X_AMZN_TRACE_ID": _trace_header()}
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", statement], env=run_env,
                          capture_output=True, text=True, check=True, cwd=path[0])
    total_us, modules = 0, set()
    for line in done.stderr.splitlines():
        match = _LINE.match(line)
        if match:
            total_us += int(match.group(1))
            modules.add(match.group(4).split(".")[0])
    return total_us / 1000.0, modules


def first_call(env: dict[str, str], body: str, path: list[Path], event: dict | None) -> dict:
    run_env = {**env, "PYTHONPATH": os.pathsep.join(str(p) for p in path), "_X_AMZN_TRACE_ID": _trace_header()}
    if event is not None:
        run_env["BENCH_EVENT"] = json.dumps(event)
    done = subprocess.run([sys.executable, "-c", _FIRST_CALL.format(body=body)], env=run_env,
                          capture_output=True, text=True, cwd=path[0])
    if done.returncode != 0:
        raise RuntimeError(f"first call failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ moto fixtures
class Fixtures:
    """A moto server with the job and idempotency tables (key schemas from template.yaml),
    the bucket, and per-request seed data so every first request does real work."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.server.start()
        self.url = f"http://127.0.0.1:{port}"

    def setup(self) -> None:
        import boto3
        from cfnlint.decode import decode

        template, _ = decode(str(ROOT / "template.yaml"))
        kw = {"endpoint_url": self.url, "region_name": "us-east-1",
              "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        self.ddb, self.s3 = boto3.client("dynamodb", **kw), boto3.client("s3", **kw)
        for logical, name in (("JobTable", TABLE), ("IdempotencyTable", IDEM)):
            props = json.loads(json.dumps(template["Resources"][logical]["Properties"]))
            args = {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode")}
            if props.get("GlobalSecondaryIndexes"):
                args["GlobalSecondaryIndexes"] = [{k: g[k] for k in ("IndexName", "KeySchema", "Projection")}
                                                  for g in props["GlobalSecondaryIndexes"]]
            self.ddb.create_table(TableName=name, **args)
        self.s3.create_bucket(Bucket=BUCKET)

    def job(self, status: str, filename: str, fmt: str) -> str:
        job_id = uuid.uuid4().hex
        now = "2026-11-22T10:00:00.000Z"
        key = f"uploads/{OWNER}/{job_id}/{filename}"
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=b"\xff\xd8\xff\xe0" + b"\0" * 64)
        item = {"jobId": job_id, "owner": OWNER, "ownerStatus": f"{OWNER}#{status}", "status": status,
                "kind": "image", "createdAt": now, "updatedAt": now, "task": "classify", "options": {}, "files": [],
                "input": {"filename": filename, "size": 68, "key": key, "format": fmt}}
        from boto3.dynamodb.types import TypeSerializer

        ser = TypeSerializer()
        self.ddb.put_item(TableName=TABLE, Item={k: ser.serialize(v) for k, v in item.items()})
        return job_id

    def event(self, handler: str) -> dict:
        if handler == "results":
            job_id = self.job("queued", "slice.jpg", "jpeg")
            out = f"async/outputs/{job_id}.out"
            self.s3.put_object(Bucket=BUCKET, Key=out, Body=json.dumps(
                {"ok": True, "jobId": job_id, "files": [], "result": {"prediction": "glioma"}}).encode())
            note = {"invocationStatus": "Completed", "inferenceId": job_id, "eventSource": "aws:sagemaker",
                    "responseParameters": {"contentType": "application/json", "outputLocation": f"s3://{BUCKET}/{out}"}}
            body = json.dumps({"Type": "Notification", "Message": json.dumps(note)})
            return {"Records": [{"messageId": "m1", "receiptHandle": "h", "body": body, "attributes": {},
                                 "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                                 "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:r", "awsRegion": "us-east-1"}]}
        if handler == "upload":
            method, path, resource, body = "POST", "/upload", "/upload", {"filename": "scan.nii.gz", "size": 1048576}
        elif handler == "process":
            job_id = self.job("uploaded", "slice.jpg", "jpeg")
            method, path, resource, body = "POST", "/process/classify", "/process/classify", {"jobId": job_id}
        elif handler == "jobs":
            method, path, resource, body = "GET", "/jobs", "/jobs", None
        else:
            method, path, resource, body = "GET", "/healthz", "/healthz", None
        return {
            "resource": resource, "path": path, "httpMethod": method,
            "headers": {"Content-Type": "application/json"}, "multiValueHeaders": {"Content-Type": ["application/json"]},
            "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": None,
            "stageVariables": None, "body": json.dumps(body) if body is not None else None, "isBase64Encoded": False,
            "requestContext": {"requestId": str(uuid.uuid4()), "stage": "prod", "resourcePath": resource,
                               "httpMethod": method, "path": f"/prod{path}", "identity": {"sourceIp": "127.0.0.1"},
                               "authorizer": {"claims": {"sub": OWNER}}},
        }

    def stop(self) -> None:
        self.server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tracing", choices=("off", "on"), default="off")
    parser.add_argument("--handlers", nargs="*", default=list(HANDLERS), choices=HANDLERS)
    args = parser.parse_args()
    fixtures = Fixtures()
    try:
        fixtures.setup()
        env = base_env(fixtures.url, args.tracing)
        print(f"cold start, tracing {args.tracing}, median of {args.repeat} fresh processes each; load {os.getloadavg()[0]:.2f}")
        base_imp = statistics.median(import_profile(env, "import boto3", [ROOT])[0] for _ in range(args.repeat))
        base_first = statistics.median(first_call(env, _BASELINE_BODY, [ROOT], None)["first_ms"] for _ in range(args.repeat))
        print(f"{'':10} {'import (-X importtime)':>24} {'first invocation (wall)':>30}")
        print(f"{'baseline':10} {base_imp:8.1f} ms  import boto3     {base_first:8.1f} ms  import boto3 + GetItem")
        ok = True
        worst = 0.0
        for name in args.handlers:
            path = [ROOT / "lambdas" / name, LAYER]
            imports, firsts, statuses, modules = [], [], set(), set()
            for _ in range(args.repeat):
                ms, mods = import_profile(env, "import app", path)
                imports.append(ms)
                modules |= mods
                answer = first_call(env, _HANDLER_BODY, path, fixtures.event(name))
                firsts.append(answer["first_ms"])
                statuses.add(answer["status"])
            imp, first = statistics.median(imports), statistics.median(firsts)
            heavy = sorted(modules.intersection(HEAVY))
            # health answers 503 here: moto has no SageMaker endpoint (the request still ran every check)
            good = all(s < 400 or (name == "health" and s == 503) for s in statuses)
            verdict = "ok" if imp < TARGET_MS and not heavy and good else "OVER" if imp >= TARGET_MS else "FAIL"
            ok &= verdict == "ok"
            worst = max(worst, imp)
            print(f"{name:10} {imp:8.1f} ms  x{imp / base_imp:4.2f} of boto3   {first:8.1f} ms  x{first / base_first:4.2f} of baseline"
                  f"  status {','.join(map(str, sorted(statuses)))}  {verdict}{'  heavy: ' + ','.join(heavy) if heavy else ''}")
        print(f"worst handler import {worst:.1f} ms (target < {TARGET_MS:.0f} ms); load {os.getloadavg()[0]:.2f}")
        return 0 if ok else 1
    finally:
        fixtures.stop()


if __name__ == "__main__":
    raise SystemExit(main())
