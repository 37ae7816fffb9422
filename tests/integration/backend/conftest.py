"""Integration fixtures for the serverless backend: a moto server on 127.0.0.1, resources
created from template.yaml's own definitions, and API Gateway events built from the
template's own routes (with Cognito claims), handed to the real handlers."""

from __future__ import annotations

import base64
import fnmatch
import importlib.util
import json
import re
import socket
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[3]
LAYER = ROOT / "layers" / "shared" / "python"
if str(LAYER) not in sys.path:
    sys.path.insert(0, str(LAYER))

REGION = "us-east-1"
BUCKET = "oculus-data-test"
TABLE = "oculus-jobs-test"
IDEMPOTENCY_TABLE = "oculus-idempotency-test"
ENDPOINT = "oculus-async-test"
ORIGIN = "http://localhost:5173"


# ------------------------------------------------------------------ the template
def load_template() -> dict[str, Any]:
    from cfnlint.decode import decode

    template, matches = decode(str(ROOT / "template.yaml"))
    assert not matches, matches
    return json.loads(json.dumps(template))  # plain dicts/strings


@dataclass(frozen=True)
class Route:
    function: str  # logical id
    module: str  # lambdas/<module>/
    path: str  # /jobs/{jobId}
    method: str  # GET
    authorized: bool

    def regex(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path) + "$")


def routes_of(template: dict[str, Any]) -> list[Route]:
    routes = []
    api_auth = template["Resources"]["Api"]["Properties"].get("Auth", {})
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        module = resource["Properties"]["CodeUri"].strip("/").split("/")[-1]
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] != "Api":
                continue
            props = event["Properties"]
            authorizer = props.get("Auth", {}).get("Authorizer", api_auth.get("DefaultAuthorizer"))
            routes.append(Route(name, module, props["Path"], props["Method"].upper(), authorizer not in (None, "NONE")))
    return routes


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template()


# ------------------------------------------------------------------ moto server + env
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_url():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def backend_env(moto_url):
    mp = pytest.MonkeyPatch()
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_url,
        "TABLE_NAME": TABLE,
        "OWNER_INDEX_NAME": "owner-index",
        "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE,
        "BUCKET_NAME": BUCKET,
        "ENDPOINT_NAME": ENDPOINT,
        "ALLOWED_ORIGIN": ORIGIN,
        "POWERTOOLS_SERVICE_NAME": "oculus",
        "POWERTOOLS_METRICS_NAMESPACE": "IrisOculusTest",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    for key, value in env.items():
        mp.setenv(key, value)
    for key in ("AWS_PROFILE", "MULTIPART_THRESHOLD_BYTES", "MODEL_INDEX_URI", "MAX_UPLOAD_BYTES",
                "CLASSIFIER_DEFAULT_VERSION", "CLASSIFIER_CANDIDATE_VERSION", "CLASSIFIER_CANDIDATE_SHARE"):
        mp.delenv(key, raising=False)
    yield env
    mp.undo()


def _load_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"oculus_lambda_{name}", ROOT / "lambdas" / name / "app.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def handlers(backend_env) -> dict[str, ModuleType]:
    return {name: _load_module(name) for name in ("upload", "process", "jobs", "health", "results")}


# ------------------------------------------------------------------ IAM as AWS would enforce it
class CallRecorder:
    """Every AWS call a handler makes while a test runs it, held to its function's rows in
    ``oculus_shared.permissions`` (which test_permissions.py holds to template.yaml): a call
    the role would not be granted on AWS fails the test here, although moto allowed it."""

    def __init__(self) -> None:
        self.function: str | None = None
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def hook(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        from botocore import xform_name

        if self.function:
            self.calls.append((model.service_model.service_name, xform_name(model.name), dict(params)))

    @contextmanager
    def within(self, function: str):
        self.function, self.calls = function, []
        try:
            yield
        finally:
            self.function = None
        self.check(function, self.calls)

    @staticmethod
    def resources(service: str, operation: str, params: dict[str, Any]) -> list[str]:
        if service == "s3":
            assert params["Bucket"] == BUCKET, params
            if operation == "head_bucket":
                return ["DataBucket"]
            if operation == "list_objects_v2":
                return [f"DataBucket?prefix={params.get('Prefix', '')}"]
            if operation == "delete_objects":
                return [f"DataBucket/{o['Key']}" for o in params["Delete"]["Objects"]]
            return [f"DataBucket/{params['Key']}"]
        if service == "dynamodb":
            table = {TABLE: "JobTable", IDEMPOTENCY_TABLE: "IdempotencyTable"}[params["TableName"]]
            return [f"{table}/index/{params['IndexName']}" if params.get("IndexName") else table]
        return ["Endpoint"]  # sagemaker, sagemaker-runtime

    def check(self, function: str, calls: list[tuple[str, str, dict[str, Any]]]) -> None:
        from oculus_shared.permissions import FUNCTION_CALLS

        rows = FUNCTION_CALLS[function]
        for service, operation, params in calls:
            for resource in self.resources(service, operation, params):
                granted = any(
                    # presigning emits the same event as the call it signs
                    row.operation in (f"{service}.{operation}", f"{service}.presign:{operation}")
                    and not row.action.startswith("kms:") and (
                        resource.startswith(row.resource) if "?prefix=" in row.resource
                        else fnmatch.fnmatchcase(resource, row.resource))
                    for row in rows)
                assert granted, f"{function} called {service}.{operation} on {resource}: no row in permissions.py"


RECORDER = CallRecorder()


@pytest.fixture(scope="session", autouse=True)
def _record_aws_calls():
    import boto3

    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("provide-client-params", RECORDER.hook)
    yield
    boto3.DEFAULT_SESSION.events.unregister("provide-client-params", RECORDER.hook)


# ------------------------------------------------------------------ resources from the template
def _create_table(ddb: Any, props: dict[str, Any], name: str) -> None:
    kwargs: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props["BillingMode"],
    }
    if props.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = [
            {k: gsi[k] for k in ("IndexName", "KeySchema", "Projection")} for gsi in props["GlobalSecondaryIndexes"]
        ]
    ddb.create_table(**kwargs)
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)


@dataclass
class Aws:
    url: str
    template: dict[str, Any]
    s3: Any
    ddb: Any
    sns: Any
    sqs: Any
    stubbers: dict[str, Any] = field(default_factory=dict)

    def stub(self, service: str) -> Any:
        """A botocore Stubber on the handlers' own cached client for ``service``."""
        from botocore.stub import Stubber

        from oculus_shared.aws import client

        if service not in self.stubbers:
            stubber = Stubber(client(service))
            stubber.activate()
            self.stubbers[service] = stubber
        return self.stubbers[service]


@pytest.fixture
def aws(backend_env, moto_url, template, handlers):
    import boto3

    from oculus_shared import wiring

    requests.post(f"{moto_url}/moto-api/reset", timeout=10).raise_for_status()
    wiring.reset()
    handlers["process"].idempotent_start.cache_clear()
    resources = template["Resources"]
    ddb = boto3.client("dynamodb")
    _create_table(ddb, resources["JobTable"]["Properties"], TABLE)
    _create_table(ddb, resources["IdempotencyTable"]["Properties"], IDEMPOTENCY_TABLE)
    s3 = boto3.client("s3", config=__import__("botocore.config").config.Config(s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket=BUCKET)
    env = Aws(moto_url, template, s3, ddb, boto3.client("sns"), boto3.client("sqs"))
    yield env
    for stubber in env.stubbers.values():
        stubber.deactivate()
    wiring.reset()


# ------------------------------------------------------------------ calling the API
class Context:
    function_name = "oculus-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:oculus-test"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    raw: str

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    @property
    def error_code(self) -> str | None:
        body = self.json
        return body["error"]["code"] if body.get("ok") is False else None


class Api:
    def __init__(self, template: dict[str, Any], handlers: dict[str, ModuleType]) -> None:
        self.routes = routes_of(template)
        self.handlers = handlers

    def route_for(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        for route in self.routes:
            match = route.regex().match(path)
            if match and route.method == method:
                return route, match.groupdict()
        raise AssertionError(f"template.yaml has no route {method} {path}")

    def call(
        self,
        method: str,
        path: str,
        *,
        user: str | None = "alice",
        body: Any = None,
        raw_body: str | None = None,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Answer:
        route, params = self.route_for(method, path)
        text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
        headers = {"Content-Type": content_type, "Origin": ORIGIN}
        request_context: dict[str, Any] = {
            "requestId": str(uuid.uuid4()),
            "stage": "prod",
            "resourcePath": route.path,
            "httpMethod": method,
            "path": f"/prod{path}",
            "identity": {"sourceIp": "127.0.0.1"},
        }
        if user is not None:
            request_context["authorizer"] = {"claims": {"sub": user, "email": f"{user}@example.org"}}
        event = {
            "resource": route.path,
            "path": path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": query,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": request_context,
            "body": text,
            "isBase64Encoded": False,
        }
        with RECORDER.within(route.function):
            answer = self.handlers[route.module].lambda_handler(event, Context())
        merged = dict(answer.get("headers") or {})
        for key, values in (answer.get("multiValueHeaders") or {}).items():
            merged[key] = values[-1]
        raw = answer.get("body") or ""
        if answer.get("isBase64Encoded"):
            raw = base64.b64decode(raw).decode()
        return Answer(answer["statusCode"], merged, raw)


@pytest.fixture
def api(aws, template, handlers) -> Api:
    return Api(template, handlers)


# ------------------------------------------------------------------ sample files
def nifti1_header() -> bytes:
    header = bytearray(352)
    header[0:4] = (348).to_bytes(4, "little")
    header[344:348] = b"n+1\x00"
    return bytes(header)


class Samples:
    def __init__(self, shared_data: Path) -> None:
        self.shared = shared_data

    def ct_nii_gz(self) -> bytes:
        return (self.shared / "ct" / "example_ct_sm.nii.gz").read_bytes()

    def dicom(self) -> bytes:
        return (self.shared / "ct" / "pydicom_CT_small.dcm").read_bytes()

    def brain_jpeg(self) -> bytes:
        return next(iter(sorted((self.shared / "brain-mri" / "Training" / "glioma").glob("*.jpg")))).read_bytes()

    def png(self) -> bytes:
        import io

        from PIL import Image

        buffer = io.BytesIO()
        Image.new("L", (8, 8), 128).save(buffer, format="PNG")
        return buffer.getvalue()


@pytest.fixture(scope="session")
def samples(shared_data) -> Samples:
    return Samples(shared_data)
