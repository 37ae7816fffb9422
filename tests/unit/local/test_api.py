"""The local API gateway: routes, proxy events, Cognito JWTs from moto, gateway answers."""

from __future__ import annotations

import base64
import json

import pytest
from oculus_local.api import ApiSettings, LocalApiGateway, Route
from oculus_local.auth import CognitoAuthorizer, JwksCache
from werkzeug.test import Client

PASSWORD = "Unit-test-Passw0rd"


class RecordingFunction:
    """Stands in for a handler: records the event, answers a proxy response."""

    def __init__(self, logical_id: str, answer=None, error: Exception | None = None) -> None:
        self.logical_id = logical_id
        self.events: list[dict] = []
        self.answer = answer or {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                                 "body": json.dumps({"ok": True})}
        self.error = error

    def invoke(self, event: dict):
        self.events.append(event)
        if self.error:
            raise self.error
        return self.answer


@pytest.fixture(scope="module")
def pool(moto_client):
    cognito = moto_client("cognito-idp")
    pool_id = cognito.create_user_pool(PoolName="unit", UsernameAttributes=["email"])["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="web",
                                                ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    cognito.admin_create_user(UserPoolId=pool_id, Username="a@example.org", MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": "email", "Value": "a@example.org"}])
    cognito.admin_set_user_password(UserPoolId=pool_id, Username="a@example.org", Password=PASSWORD, Permanent=True)
    tokens = cognito.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": "a@example.org", "PASSWORD": PASSWORD})
    return pool_id, tokens["AuthenticationResult"]


@pytest.fixture()
def gateway(pool, moto_endpoint):
    pool_id, _ = pool
    authorizer = CognitoAuthorizer("CognitoAuthorizer", pool_id)
    functions = {name: RecordingFunction(name) for name in ("jobs", "files", "stl", "health", "boom")}
    functions["boom"].error = RuntimeError("handler bug")
    routes = [
        Route("/jobs/{jobId}", "GET", functions["jobs"], authorizer),
        Route("/files/{jobId}/{filename}", "GET", functions["files"], authorizer),
        Route("/files/{jobId}/stl/{filename}", "GET", functions["stl"], authorizer),
        Route("/healthz", "GET", functions["health"], None),
        Route("/boom", "POST", functions["boom"], None),
    ]
    routes.sort(key=lambda r: r.specificity, reverse=True)
    template = '{"ok": false, "error": {"code": "gateway_$context.error.responseType", "message": $context.error.messageString}}'
    settings = ApiSettings(
        stage="prod",
        cors={"Access-Control-Allow-Origin": "http://127.0.0.1:5173", "Access-Control-Allow-Methods": "GET,POST"},
        gateway_responses={"DEFAULT_4XX": {"ResponseTemplates": {"application/json": template},
                                           "ResponseParameters": {"Headers": {"Access-Control-Allow-Origin": "'http://127.0.0.1:5173'"}}}},
        binary_media_types=["application/octet-stream"],
    )
    gw = LocalApiGateway(routes, settings, JwksCache(moto_endpoint), "us-east-1", "123456789012", "127.0.0.1:3001")
    return gw, functions


def test_a_valid_id_token_reaches_the_handler_with_api_gateway_claims(gateway, pool):
    gw, functions = gateway
    _, tokens = pool
    response = Client(gw).get("/prod/jobs/abc123?x=1&x=2", headers={"Authorization": f"Bearer {tokens['IdToken']}"})
    assert response.status_code == 200
    event = functions["jobs"].events[-1]
    assert event["resource"] == "/jobs/{jobId}"
    assert event["path"] == "/jobs/abc123"
    assert event["pathParameters"] == {"jobId": "abc123"}
    assert event["queryStringParameters"] == {"x": "2"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    assert event["requestContext"]["path"] == "/prod/jobs/abc123"
    assert event["body"] is None and event["isBase64Encoded"] is False
    claims = event["requestContext"]["authorizer"]["claims"]
    assert claims["token_use"] == "id" and claims["email"] == "a@example.org" and claims["sub"]
    assert all(isinstance(v, str) for v in claims.values())


@pytest.mark.parametrize("header", [None, "Bearer not-a-jwt", "access", "tampered"])
def test_missing_or_invalid_tokens_get_the_gateways_401(gateway, pool, header):
    gw, functions = gateway
    _, tokens = pool
    if header == "access":  # no scopes configured: API Gateway takes ID tokens only
        header = f"Bearer {tokens['AccessToken']}"
    elif header == "tampered":
        head, payload, signature = tokens["IdToken"].split(".")
        header = f"Bearer {head}.{payload}.{signature[:-8]}AAAAAAAA"
    before = len(functions["jobs"].events)
    response = Client(gw).get("/jobs/abc", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.json == {"ok": False, "error": {"code": "gateway_UNAUTHORIZED", "message": "Unauthorized"}}
    assert response.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:5173"
    assert len(functions["jobs"].events) == before


def test_literal_segments_win_and_unknown_routes_are_403(gateway, pool):
    gw, functions = gateway
    _, tokens = pool
    auth = {"Authorization": tokens["IdToken"]}  # API Gateway also takes the bare token
    assert Client(gw).get("/files/j1/stl/liver.stl", headers=auth).status_code == 200
    assert functions["stl"].events[-1]["pathParameters"] == {"jobId": "j1", "filename": "liver.stl"}
    assert Client(gw).get("/files/j1/scene.glb", headers=auth).status_code == 200
    assert functions["files"].events[-1]["pathParameters"] == {"jobId": "j1", "filename": "scene.glb"}
    missing = Client(gw).get("/nope", headers=auth)
    assert missing.status_code == 403
    assert missing.json["error"]["code"] == "gateway_MISSING_AUTHENTICATION_TOKEN"


def test_preflight_is_answered_from_the_cors_settings_without_a_token(gateway):
    gw, functions = gateway
    response = Client(gw).options("/jobs/abc", headers={"Origin": "http://127.0.0.1:5173"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:5173"
    assert response.headers["Access-Control-Allow-Methods"] == "GET,POST"
    assert functions["jobs"].events == []


def test_an_unauthenticated_route_needs_no_token(gateway):
    gw, functions = gateway
    assert Client(gw).get("/healthz").status_code == 200
    assert "authorizer" not in functions["health"].events[-1]["requestContext"]


def test_a_crashing_handler_is_a_502_and_binary_bodies_arrive_base64(gateway):
    gw, functions = gateway
    payload = bytes(range(256))
    response = Client(gw).post("/boom", data=payload, headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 502
    event = functions["boom"].events[-1]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_proxy_responses_keep_status_headers_and_base64_bodies(gateway):
    gw, functions = gateway
    functions["health"].answer = {"statusCode": 302, "headers": {"Location": "http://x/y"},
                                  "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
                                  "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True}
    response = Client(gw).get("/healthz")
    assert response.status_code == 302
    assert response.headers["Location"] == "http://x/y"
    assert response.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert response.data == b"\x00\x01"
