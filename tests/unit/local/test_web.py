"""The web app server: the built app, its client-side routes, and /config.json."""

from __future__ import annotations

from oculus_local.web import WebApp
from werkzeug.test import Client


def test_config_json_is_the_stack_outputs_and_never_cached(tmp_path):
    outputs = {"ApiUrl": "http://127.0.0.1:3001/prod/", "UserPoolId": "p"}
    response = Client(WebApp(tmp_path, outputs)).get("/config.json")
    assert response.json == outputs
    assert response.headers["Cache-Control"] == "no-store"


def test_built_app_assets_and_client_routes(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<div id=root></div>")
    (tmp_path / "assets" / "app-123.js").write_text("console.log(1)")
    client = Client(WebApp(tmp_path, {}))
    asset = client.get("/assets/app-123.js")
    assert asset.status_code == 200 and "javascript" in asset.headers["Content-Type"]
    assert "immutable" in asset.headers["Cache-Control"]
    route = client.get("/jobs/abc")
    assert route.status_code == 200 and route.data == b"<div id=root></div>"
    assert client.get("/assets/missing.js").status_code == 404


def test_files_outside_the_build_are_not_served(tmp_path):
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("app")
    (tmp_path / "secret.txt").write_text("do not serve")
    response = Client(WebApp(dist, {})).get("/..%2fsecret.txt")
    assert response.status_code == 404
    assert b"do not serve" not in response.data


def test_without_a_build_it_says_how_to_build(tmp_path):
    response = Client(WebApp(tmp_path / "dist", {})).get("/")
    assert b"npm run build" in response.data
