"""The REST API, as API Gateway serves it, in front of the very same handler functions.

Routes come from each function's ``Api`` events in the template; a request becomes an API
Gateway REST proxy event (payload format 1.0), Cognito-protected routes verify the caller's
JWT first, and the handler's proxy response becomes the HTTP response. CORS preflight and
gateway errors (401, missing route, handler crash) are answered as API Gateway would, using
the template's ``Cors`` and ``GatewayResponses`` settings.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from .auth import (
    AuthError,
    CognitoAuthorizer,
    JwksCache,
    bearer_token,
    claims_as_api_gateway_passes_them,
    verify_token,
)
from .functions import LocalFunction
from .template import Resolver, TemplateError

log = logging.getLogger("oculus_local.api")
API_TYPES = ("AWS::Serverless::Api",)


@dataclass
class Route:
    resource: str  # the template's path, e.g. /jobs/{jobId}
    method: str  # upper case, or ANY
    function: LocalFunction
    authorizer: CognitoAuthorizer | None
    scopes: list[str] = field(default_factory=list)
    pattern: re.Pattern = field(init=False)

    def __post_init__(self) -> None:
        regex = ""
        for part in re.split(r"(\{[^}]+\})", self.resource):
            if part.startswith("{") and part.endswith("+}"):
                regex += f"(?P<{_group(part[1:-2])}>.+)"
            elif part.startswith("{"):
                regex += f"(?P<{_group(part[1:-1])}>[^/]+)"
            else:
                regex += re.escape(part)
        self.pattern = re.compile(f"^{regex}/?$")

    @property
    def specificity(self) -> tuple[int, int]:
        # API Gateway prefers literal segments over parameters, and parameters over greedy ones.
        return (-self.resource.count("+}"), -self.resource.count("{"))


def _group(name: str) -> str:
    return re.sub(r"\W", "_", name)


@dataclass
class ApiSettings:
    stage: str = "Prod"
    cors: dict[str, str] | None = None  # header name -> value, quotes already stripped
    cors_preflight_needs_auth: bool = False
    gateway_responses: dict[str, dict] = field(default_factory=dict)
    binary_media_types: list[str] = field(default_factory=list)
    default_authorizer: CognitoAuthorizer | None = None


def _unquote(value: Any) -> str:
    """SAM's Cors values are header values wrapped in single quotes: "'*'"."""
    text = str(value)
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == "'" else text


def _cors_headers(cors: Any) -> dict[str, str] | None:
    if not cors:
        return None
    if isinstance(cors, str):
        cors = {"AllowOrigin": cors}
    headers = {"Access-Control-Allow-Origin": _unquote(cors["AllowOrigin"])}
    mapping = {
        "AllowMethods": "Access-Control-Allow-Methods",
        "AllowHeaders": "Access-Control-Allow-Headers",
        "MaxAge": "Access-Control-Max-Age",
    }
    for key, header in mapping.items():
        if key in cors:
            headers[header] = _unquote(cors[key])
    if cors.get("AllowCredentials"):
        headers["Access-Control-Allow-Credentials"] = "true"
    return headers


def _pool_id_from_arn(arn: Any) -> str:
    if isinstance(arn, list):
        arn = arn[0]
    return str(arn).rsplit("/", 1)[-1]


def read_api_settings(template: dict, resolver: Resolver) -> dict[str | None, ApiSettings]:
    """Settings per API resource (key None: SAM's implicit API, from Globals.Api)."""
    apis: dict[str | None, dict] = {None: (template.get("Globals") or {}).get("Api") or {}}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") in API_TYPES:
            apis[logical_id] = {**apis[None], **(resource.get("Properties") or {})}
    out = {}
    for logical_id, props in apis.items():
        props = resolver.resolve(props)
        auth = props.get("Auth") or {}
        authorizers = {
            name: CognitoAuthorizer(name, _pool_id_from_arn(spec["UserPoolArn"]),
                                    (spec.get("Identity") or {}).get("Header", "Authorization"))
            for name, spec in (auth.get("Authorizers") or {}).items() if "UserPoolArn" in spec
        }
        default_name = auth.get("DefaultAuthorizer")
        if default_name and default_name not in ("NONE", "AWS_IAM") and default_name not in authorizers:
            raise TemplateError(f"API {logical_id}: DefaultAuthorizer {default_name} is not a Cognito authorizer")
        default = authorizers.get(default_name) if default_name else None
        settings = ApiSettings(
            stage=str(props.get("StageName", "Prod")),
            cors=_cors_headers(props.get("Cors")),
            cors_preflight_needs_auth=bool(default) and auth.get("AddDefaultAuthorizerToCorsPreflight", True),
            gateway_responses=props.get("GatewayResponses") or {},
            binary_media_types=[t.replace("~1", "/") for t in props.get("BinaryMediaTypes", [])],
            default_authorizer=default,
        )
        settings.authorizers = authorizers  # type: ignore[attr-defined]
        out[logical_id] = settings
    return out


def discover_routes(functions: dict[str, LocalFunction], apis: dict[str | None, ApiSettings]) -> list[Route]:
    routes = []
    for function in functions.values():
        for event in function.events.values():
            if event.get("Type") != "Api":
                continue
            props = event.get("Properties") or {}
            api_ref = props.get("RestApiId")
            api = apis[api_ref.get("Ref") if isinstance(api_ref, dict) else api_ref]
            auth = props.get("Auth") or {}
            name = auth.get("Authorizer")
            if name == "NONE":
                authorizer = None
            elif name:
                authorizer = api.authorizers[name]  # type: ignore[attr-defined]
            else:
                authorizer = api.default_authorizer
            routes.append(Route(props["Path"], props["Method"].upper(), function, authorizer,
                                list(auth.get("AuthorizationScopes") or [])))
    routes.sort(key=lambda r: r.specificity, reverse=True)
    return routes


class LocalApiGateway:
    """A WSGI application that behaves like the deployed REST API stage."""

    def __init__(self, routes: list[Route], settings: ApiSettings, jwks: JwksCache, region: str,
                 account_id: str, host: str) -> None:
        self.routes = routes
        self.settings = settings
        self.jwks = jwks
        self.region = region
        self.account_id = account_id
        self.host = host

    def __call__(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    # --- routing ----------------------------------------------------------------------------
    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, path parameters, whether the path exists for some method)."""
        path_exists = False
        for route in self.routes:
            found = route.pattern.match(path)
            if not found:
                continue
            path_exists = True
            if route.method in (method, "ANY"):
                params = {}
                for name, value in found.groupdict().items():
                    original = next(p for p in re.findall(r"\{([^}+]+)\+?\}", route.resource) if _group(p) == name)
                    params[original] = value
                return route, params, True
        return None, {}, path_exists

    def handle(self, request: Request) -> Response:
        path = request.path
        if path.startswith(f"/{self.settings.stage}/"):
            path = path[len(self.settings.stage) + 1:]  # the deployed URL carries the stage
        if request.method == "OPTIONS" and self.settings.cors is not None:
            _, _, exists = self.match("OPTIONS", path)
            if exists and not self.settings.cors_preflight_needs_auth:
                return Response(b"{}", 200, headers=self.settings.cors, content_type="application/json")
        route, params, exists = self.match(request.method, path)
        if route is None:
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")
        claims = None
        if route.authorizer is not None:
            try:
                token = bearer_token(request.headers.get(route.authorizer.header))
                claims = verify_token(token, route.authorizer, self.jwks, self.region, route.scopes)
            except AuthError as exc:
                log.info("401 %s %s: %s", request.method, path, exc)
                return self.gateway_response("UNAUTHORIZED", 401, "Unauthorized")
        event = self.proxy_event(request, path, route, params, claims)
        started = time.monotonic()
        try:
            result = route.function.invoke(event)
        except Exception:  # noqa: BLE001 - a crashed Lambda is a 502 at the gateway, as on AWS
            log.exception("%s raised on %s %s", route.function.logical_id, request.method, path)
            return self.gateway_response("DEFAULT_5XX", 502, "Internal server error")
        log.info("%s %s -> %s (%s, %.0f ms)", request.method, path, (result or {}).get("statusCode"),
                 route.function.logical_id, (time.monotonic() - started) * 1000)
        return self.proxy_response(result, route)

    # --- event / response conversion -------------------------------------------------------
    def proxy_event(self, request: Request, path: str, route: Route, params: dict, claims: dict | None) -> dict:
        headers = {k: v for k, v in request.headers.items()}
        multi_headers: dict[str, list[str]] = {}
        for key, value in request.headers.items():
            multi_headers.setdefault(key, []).append(value)
        query = {k: request.args.getlist(k)[-1] for k in request.args}
        multi_query = {k: request.args.getlist(k) for k in request.args}
        raw = request.get_data()
        body, is_b64 = self._event_body(raw, request.content_type or "")
        request_id = str(uuid.uuid4())
        now = time.time()
        context: dict[str, Any] = {
            "resourceId": "local",
            "resourcePath": route.resource,
            "httpMethod": request.method,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": f"/{self.settings.stage}{path}",
            "accountId": self.account_id,
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "stage": self.settings.stage,
            "domainPrefix": "local",
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": {"sourceIp": request.remote_addr or "127.0.0.1", "userAgent": request.user_agent.string},
            "domainName": self.host,
            "apiId": "local",
        }
        if claims is not None:
            context["authorizer"] = {"claims": claims_as_api_gateway_passes_them(claims)}
        return {
            "resource": route.resource,
            "path": path,
            "httpMethod": request.method,
            "headers": headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": context,
            "body": body,
            "isBase64Encoded": is_b64,
        }

    def _event_body(self, raw: bytes, content_type: str) -> tuple[str | None, bool]:
        if not raw:
            return None, False
        media = content_type.split(";")[0].strip()
        binary = any(fnmatch.fnmatch(media, pattern) for pattern in self.settings.binary_media_types)
        if not binary:
            try:
                return raw.decode("utf-8"), False
            except UnicodeDecodeError:
                pass
        return base64.b64encode(raw).decode("ascii"), True

    def proxy_response(self, result: Any, route: Route) -> Response:
        if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
            log.error("%s returned a malformed proxy response: %r", route.function.logical_id, result)
            return self.gateway_response("DEFAULT_5XX", 502, "Internal server error")
        body = result.get("body") or ""
        data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
        response = Response(data, result["statusCode"])
        response.headers.pop("Content-Type", None)
        for key, value in (result.get("headers") or {}).items():
            response.headers[key] = str(value)
        for key, values in (result.get("multiValueHeaders") or {}).items():
            response.headers.remove(key)
            for value in values:
                response.headers.add(key, str(value))
        if "Content-Type" not in response.headers:
            response.headers["Content-Type"] = "application/json"
        return response

    def gateway_response(self, kind: str, status: int, message: str) -> Response:
        """API Gateway's own answer, shaped by the template's GatewayResponses when it sets one."""
        responses = self.settings.gateway_responses
        family = "DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"
        spec = responses.get(kind) or responses.get(family) or {}
        body = json.dumps({"message": message})
        template = (spec.get("ResponseTemplates") or {}).get("application/json")
        if template:
            body = template.replace("$context.error.messageString", json.dumps(message)).replace(
                "$context.error.message", message).replace("$context.error.responseType", kind)
        response = Response(body, int(spec.get("StatusCode", status)), content_type="application/json")
        response.headers["x-amzn-ErrorType"] = {401: "UnauthorizedException", 403: "MissingAuthenticationTokenException"}.get(
            status, "InternalServerErrorException")
        for name, value in ((spec.get("ResponseParameters") or {}).get("Headers") or {}).items():
            response.headers[name] = _unquote(value)
        return response
