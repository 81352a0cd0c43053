from __future__ import annotations

import re
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient

from core.config import DEV_SECRET_KEY, Settings
from core.middleware import EdgeMiddleware


class TestRequestId:
    async def test_made_when_absent(self, client):
        r = await client.get("/health/live")
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])

    async def test_sane_one_is_echoed(self, client):
        r = await client.get("/health/live", headers={"X-Request-ID": "lb-1234.abc:9"})
        assert r.headers["x-request-id"] == "lb-1234.abc:9"

    async def test_echoed_in_error_body(self, client):
        r = await client.get("/nope", headers={"X-Request-ID": "trace-42"})
        assert r.json()["request_id"] == "trace-42"

    async def test_overlong_is_400(self, client):
        r = await client.get("/health/live", headers={"X-Request-ID": "a" * 129})
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "invalid_request_id"
        assert r.headers["x-request-id"] != "a" * 129

    async def test_non_printable_is_400(self, client):
        r = await client.get("/health/live", headers={"X-Request-ID": "abc\x07def"})
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "invalid_request_id"

    async def test_each_request_gets_its_own(self, client):
        a = await client.get("/health/live")
        b = await client.get("/health/live")
        assert a.headers["x-request-id"] != b.headers["x-request-id"]


class TestSecurityHeaders:
    async def test_on_success_and_on_errors(self, client):
        for path in ("/health/live", "/nope", "/_test/boom"):
            r = await client.get(path)
            assert r.headers["x-content-type-options"] == "nosniff", path
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path
            assert r.headers["referrer-policy"] == "no-referrer", path

    async def test_api_csp_allows_nothing(self, client):
        r = await client.get("/health/live")
        assert r.headers["content-security-policy"].startswith("default-src 'none'")

    async def test_docs_load_with_their_own_assets(self, client):
        r = await client.get("/docs")
        assert r.status_code == 200
        assert "swagger" in r.text.lower()
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp

    @pytest.mark.parametrize(
        ("env", "base_url", "expected"),
        [
            ("production", "https://vigil.test", True),
            ("production", "http://vigil.test", False),  # ignored by browsers over HTTP
            ("development", "https://vigil.test", False),
        ],
    )
    async def test_hsts_in_production_over_https(self, env, base_url, expected):
        from starlette.applications import Starlette
        from starlette.responses import PlainTextResponse
        from starlette.routing import Route

        cfg = Settings(env=env, secret_key="k" * 40 + DEV_SECRET_KEY)
        inner = Starlette(routes=[Route("/", lambda _: PlainTextResponse("ok"))])
        app = EdgeMiddleware(inner, cfg)
        async with AsyncClient(transport=ASGITransport(app=app), base_url=base_url) as http:
            r = await http.get("/")
        assert ("strict-transport-security" in r.headers) is expected


class TestCorsAndGzip:
    async def test_cors_only_for_listed_origins(self, monkeypatch):
        from core.config import settings
        from main import create_app

        monkeypatch.setattr(settings, "cors_origins", ["https://admin.example.com"])
        app = create_app()
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as http:
            ok = await http.get("/health/live", headers={"Origin": "https://admin.example.com"})
            bad = await http.get("/health/live", headers={"Origin": "https://evil.example"})
            pre = await http.options(
                "/health/live",
                headers={
                    "Origin": "https://evil.example",
                    "Access-Control-Request-Method": "GET",
                },
            )
        assert ok.headers["access-control-allow-origin"] == "https://admin.example.com"
        assert "access-control-allow-origin" not in bad.headers
        assert pre.status_code == 400

    async def test_large_responses_are_gzipped(self, client):
        r = await client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200
        assert r.headers["content-encoding"] == "gzip"
        assert r.json()["info"]["title"] == "Vigil API"


class TestHtmlHeaders:
    async def test_docs_pages_also_refuse_framing_and_isolate_the_opener(self, client):
        r = await client.get("/docs")
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["cross-origin-opener-policy"] == "same-origin"

    async def test_json_responses_keep_the_header_list_short(self, client):
        r = await client.get("/health/live")
        assert "x-frame-options" not in r.headers


class TestWebSockets:
    async def test_a_websocket_scope_passes_through_unchanged(self):
        """The edge's HTTP work (body limit, headers, gzip, metrics) is not for WebSockets:
        the app gets the very scope, receive and send, with a request id for its logs."""
        from core.context import request_id_var

        seen: dict[str, Any] = {}

        async def app(scope, receive, send):
            seen.update(scope=scope, receive=receive, send=send, request_id=request_id_var.get())

        async def receive():
            return {"type": "websocket.connect"}

        async def send(message):
            raise AssertionError("the edge sent something of its own")

        # A Content-Length over the body limit would be refused (413) for HTTP.
        headers = [(b"content-length", b"99999999999"), (b"accept-encoding", b"gzip")]
        scope = {"type": "websocket", "path": "/api/v1/x/live", "headers": headers}
        snapshot = dict(scope)
        await EdgeMiddleware(app, Settings(_env_file=None, max_body_bytes=1024))(
            scope, receive, send
        )
        assert seen["scope"] is scope
        assert scope == snapshot
        assert seen["receive"] is receive
        assert seen["send"] is send
        assert re.fullmatch(r"[0-9a-f]{32}", seen["request_id"])
