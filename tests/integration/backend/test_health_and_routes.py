"""GET /healthz, GET /model-info, GET /capabilities, the template's routes and auth, unknown routes."""

from __future__ import annotations

import json

import pytest

from .conftest import ENDPOINT, routes_of

EXPECTED_ROUTES = {
    ("POST", "/upload", "upload"), ("POST", "/upload/{jobId}/complete", "upload"),
    ("POST", "/process/totalseg", "process"), ("POST", "/process/classify", "process"),
    ("GET", "/jobs", "jobs"), ("GET", "/jobs/{jobId}", "jobs"), ("DELETE", "/jobs/{jobId}", "jobs"),
    ("GET", "/files/{jobId}/{filename}", "jobs"), ("GET", "/files/{jobId}/stl/{filename}", "jobs"),
    ("GET", "/healthz", "health"), ("GET", "/model-info", "health"), ("GET", "/capabilities", "health"),
}


def test_template_routes_are_the_api_and_only_healthz_is_public(template):
    routes = routes_of(template)
    assert {(r.method, r.path, r.module) for r in routes} == EXPECTED_ROUTES
    assert {r.path for r in routes if not r.authorized} == {"/healthz"}


def test_every_template_route_is_served_by_its_handler(template, handlers):
    for route in routes_of(template):
        paths = handlers[route.module].app.get_openapi_schema().paths
        assert route.path in paths, route
        assert route.method.lower() in paths[route.path].model_dump(exclude_none=True), route


def _describe(aws, status: str, instances: int) -> None:
    aws.stub("sagemaker").add_response(
        "describe_endpoint",
        {"EndpointName": ENDPOINT, "EndpointArn": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{ENDPOINT}",
         "EndpointConfigName": "cfg", "EndpointStatus": status,
         "ProductionVariants": [{"VariantName": "AllTraffic", "CurrentInstanceCount": instances}],
         "CreationTime": "2026-01-01T00:00:00Z", "LastModifiedTime": "2026-01-01T00:00:00Z"},
        {"EndpointName": ENDPOINT},
    )


def test_healthz_needs_no_user_and_counts_scaled_to_zero_as_healthy(api, aws):
    _describe(aws, "InService", 0)
    answer = api.call("GET", "/healthz", user=None)
    assert answer.status == 200, answer.raw
    body = answer.json
    assert body["ok"] is True and body["version"]
    assert body["checks"]["table"]["ok"] and body["checks"]["bucket"]["ok"]
    assert body["checks"]["endpoint"] == {"ok": True, "status": "InService", "instances": 0, "scaledToZero": True, "healthy": True}


def test_healthz_reports_a_failed_endpoint_and_a_missing_bucket_as_503(api, aws):
    _describe(aws, "Failed", 0)
    aws.s3.delete_bucket(Bucket="oculus-data-test")
    answer = api.call("GET", "/healthz", user=None)
    assert answer.status == 503 and answer.json["ok"] is False
    assert answer.json["checks"]["endpoint"]["ok"] is False and answer.json["checks"]["bucket"]["ok"] is False
    assert answer.json["checks"]["table"]["ok"] is True


def test_model_info_serves_the_cards(api, aws, monkeypatch):
    from oculus_shared import wiring

    card = {"name": "brain-tumor-efficientnet", "version": "1.0.0",
            "classes": ["glioma", "meningioma", "no_tumor", "pituitary"], "metrics": {"accuracy": 0.9}}
    aws.s3.put_object(Bucket="oculus-data-test", Key="models/brain_tumor/versions.json",
                      Body=json.dumps({"default": "v1", "versions": ["v1"]}))
    aws.s3.put_object(Bucket="oculus-data-test", Key="models/brain_tumor/v1/card.json", Body=json.dumps(card))
    monkeypatch.setenv("MODEL_INDEX_URI", "s3://oculus-data-test/models/brain_tumor/versions.json")
    wiring.reset()
    answer = api.call("GET", "/model-info")
    assert answer.status == 200 and answer.json["models"] == [{**card, "version": "v1", "release": "1.0.0"}]
    assert api.call("GET", "/model-info", user=None).status == 401


def test_model_info_without_a_card_is_a_clear_503(api, aws, monkeypatch, tmp_path):
    from oculus_shared import wiring

    monkeypatch.setenv("MODEL_INDEX_URI", str(tmp_path / "missing.json"))
    wiring.reset()
    answer = api.call("GET", "/model-info")
    assert answer.status == 503 and answer.error_code == "model_card_unavailable"


def test_capabilities_before_the_engine_has_published_them_offer_no_totalsegmentator(api, aws):
    answer = api.call("GET", "/capabilities")
    assert answer.status == 200, answer.raw
    assert answer.json["known"] is False and answer.json["default"] == "threshold"
    assert answer.json["totalsegmentator"]["usable"] is False and answer.json["totalsegmentator"]["tasks"] == []
    assert api.call("GET", "/capabilities", user=None).status == 401


def test_capabilities_are_what_the_engine_published(api, aws, monkeypatch):
    import sys

    from .conftest import ROOT

    monkeypatch.syspath_prepend(str(ROOT / "sagemaker"))
    monkeypatch.setenv("OCULUS_BUCKET", "oculus-data-test")
    from oculus import capabilities as engine

    segmentation = {"default": "totalsegmentator", "threshold": True, "labels": True, "totalsegmentator": {
        "installed": True, "usable": True, "version": "2.18.0", "tasks": [
            {"name": "total", "weights": False, "fastWeights": True, "structures": ["liver", "spleen"]},
            {"name": "total_mr", "weights": False, "fastWeights": False, "structures": ["liver"]}]}}
    # the engine's own publisher, writing through moto as it does from the container
    engine.publish(segmentation, attempts=1).join(30)
    assert "oculus" in sys.modules
    answer = api.call("GET", "/capabilities")
    assert answer.status == 200, answer.raw
    body = answer.json
    assert body["known"] is True and body["publishedAt"] and body["engineVersion"]
    assert body["default"] == "totalsegmentator"
    assert body["totalsegmentator"]["tasks"] == segmentation["totalsegmentator"]["tasks"]


def test_a_malformed_capabilities_document_never_offers_totalsegmentator(api, aws):
    aws.s3.put_object(Bucket="oculus-data-test", Key="engine/capabilities.json",
                      Body=json.dumps({"segmentation": {"totalsegmentator": {"installed": "yes", "tasks": [
                          {"name": "total", "weights": "true"}]}}}))
    body = api.call("GET", "/capabilities").json
    assert body["known"] is True and body["default"] == "threshold"
    assert body["totalsegmentator"]["usable"] is False


@pytest.mark.parametrize("module", ["upload", "process", "jobs", "health"])
def test_unknown_routes_are_json_404s(handlers, aws, module):
    from .conftest import Context

    event = {"resource": "/nope", "path": "/nope", "httpMethod": "GET", "headers": {}, "multiValueHeaders": {},
             "requestContext": {"requestId": "r", "stage": "prod", "authorizer": {"claims": {"sub": "alice"}}},
             "body": None, "isBase64Encoded": False}
    answer = handlers[module].lambda_handler(event, Context())
    assert answer["statusCode"] == 404 and json.loads(answer["body"])["error"]["code"] == "route_not_found"


def test_openapi_document_is_valid_current_and_covers_every_route(template):
    import subprocess
    import sys

    import yaml
    from openapi_spec_validator import validate

    from .conftest import ROOT

    doc = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
    validate(doc)
    for route in routes_of(template):
        operation = doc["paths"][route.path][route.method.lower()]
        assert (operation["security"] == []) is (not route.authorized), route
    check = subprocess.run([sys.executable, str(ROOT / "scripts" / "openapi_doc.py"), "--check"], cwd=ROOT,
                           env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "layers" / "shared" / "python")},
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, "docs/openapi.yaml is out of date: run scripts/openapi_doc.py\n" + check.stderr
