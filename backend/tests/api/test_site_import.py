"""Importing a landing page from a URL: a real HTTP server on loopback, and the SSRF guards."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.config import settings

URL = "/api/v1/phishing/landing-pages/import"
PAGE = (
    b"<html><body><h1>Contoso sign in</h1><script>steal()</script>"
    b'<form action="https://contoso.example.com/login" method="post">'
    b'<input name="user"><input type="password" name="pw"><button>Go</button></form></body></html>'
)


class _Site(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/login":
            body, status, extra = PAGE, 200, {}
        elif self.path == "/hop":
            body, status, extra = b"", 302, {"Location": "/login"}
        elif self.path == "/to-metadata":
            body, status, extra = b"", 302, {"Location": "http://169.254.169.254/latest/meta-data/"}
        elif self.path == "/huge":
            body, status, extra = b"<p>" + b"a" * (3 * 1024 * 1024) + b"</p>", 200, {}
        else:
            body, status, extra = b"missing", 404, {}
        self.send_response(status)
        for name, value in {"Content-Type": "text/html", **extra}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class TestImport:
    async def test_page_is_fetched_and_sanitized(self, client, tenant, site):
        r = await client.post(URL, json={"url": f"{site}/login"}, headers=tenant.admin_headers)
        assert r.status_code == 201, r.text
        html = r.json()["html"]
        assert "Contoso sign in" in html
        assert '<input type="password" name="pw">' in html
        assert "<script" not in html
        assert "contoso.example.com" not in html  # the form will post back to us

    async def test_redirects_are_followed(self, client, tenant, site):
        r = await client.post(URL, json={"url": f"{site}/hop"}, headers=tenant.admin_headers)
        assert r.status_code == 201
        assert "Contoso sign in" in r.json()["html"]

    async def test_oversize_and_missing_pages_are_clear_errors(self, client, tenant, site):
        r = await client.post(URL, json={"url": f"{site}/huge"}, headers=tenant.admin_headers)
        assert r.status_code == 400
        assert "larger than" in r.json()["error"]["message"]
        r = await client.post(URL, json={"url": f"{site}/nope"}, headers=tenant.admin_headers)
        assert r.status_code == 400
        assert "404" in r.json()["error"]["message"]


class TestSsrfGuards:
    @pytest.fixture(autouse=True)
    def _production_rules(self, monkeypatch):
        monkeypatch.setattr(settings, "allow_private_network_targets", False)

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:6379/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://[::ffff:10.0.0.1]/",
            "http://100.64.0.1/",
            "http://localhost/",
            "http://224.0.0.1/",
        ],
    )
    async def test_internal_addresses_are_refused(self, client, tenant, url):
        r = await client.post(URL, json={"url": url}, headers=tenant.admin_headers)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "fetch_refused"

    @pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://x"])
    async def test_other_schemes_are_refused(self, client, tenant, url):
        r = await client.post(URL, json={"url": url}, headers=tenant.admin_headers)
        assert r.status_code == 422  # not an http(s) URL at all

    async def test_a_redirect_to_an_internal_address_is_refused(
        self, client, tenant, site, monkeypatch
    ):
        import core.outbound as outbound
        from core.network import is_public_address

        # The test site itself is on loopback: let its own address through, and nothing else.
        monkeypatch.setattr(
            outbound, "is_public_address", lambda a: a == "127.0.0.1" or is_public_address(a)
        )
        r = await client.post(
            URL, json={"url": f"{site}/to-metadata"}, headers=tenant.admin_headers
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "fetch_refused"
