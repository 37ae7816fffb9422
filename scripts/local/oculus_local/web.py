"""The web app's static files (``frontend/dist``) plus ``/config.json`` (the stack outputs),
so the app configures itself the same way here as from Amplify's build on AWS."""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>IRIS Oculus (local)</title>
<p>The web app is not built yet: run <code>npm ci &amp;&amp; npm run build</code> in <code>frontend/</code>
(<code>scripts/setup.sh</code> does it) and restart. The API and <a href="/config.json">/config.json</a> are up.</p>"""


class WebApp:
    def __init__(self, dist: Path, outputs: dict[str, Any]) -> None:
        self.dist = dist.resolve()
        self.outputs = outputs

    def __call__(self, environ: dict, start_response: Any) -> Any:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response("method not allowed", 405)
        if request.path == "/config.json":
            return Response(json.dumps(self.outputs, indent=2), 200, content_type="application/json",
                            headers={"Cache-Control": "no-store"})
        if not (self.dist / "index.html").is_file():
            return Response(NOT_BUILT, 200, content_type="text/html")
        target = (self.dist / request.path.lstrip("/")).resolve()
        if not target.is_relative_to(self.dist):
            return Response("not found", 404)
        if target.is_file():
            content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            # Vite's hashed assets never change; index.html must always be fetched fresh.
            cache = "public, max-age=31536000, immutable" if "/assets/" in request.path else "no-cache"
            return Response(target.read_bytes(), 200, content_type=content_type, headers={"Cache-Control": cache})
        if Path(request.path).suffix:  # a missing asset is a 404, not the app's HTML
            return Response("not found", 404)
        # Client-side routes (/jobs/123) load the single-page app.
        return Response((self.dist / "index.html").read_bytes(), 200, content_type="text/html",
                        headers={"Cache-Control": "no-cache"})
