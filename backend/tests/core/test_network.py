from __future__ import annotations

from starlette.requests import Request

from core.network import client_ip


def make_request(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "client": (peer, 1234), "headers": headers})


class TestClientIp:
    def test_socket_peer_without_trusted_proxies(self):
        assert client_ip(make_request("198.51.100.9", "1.2.3.4"), []) == "198.51.100.9"

    def test_untrusted_peer_cannot_forge_forwarded_for(self):
        req = make_request("198.51.100.9", "1.2.3.4")
        assert client_ip(req, ["10.0.0.0/8"]) == "198.51.100.9"

    def test_trusted_proxy_gives_the_nearest_untrusted_hop(self):
        req = make_request("10.0.0.5", "6.6.6.6, 203.0.113.20, 10.0.0.7")
        assert client_ip(req, ["10.0.0.0/8"]) == "203.0.113.20"

    def test_garbage_hop_falls_back_to_peer(self):
        req = make_request("10.0.0.5", "not-an-ip")
        assert client_ip(req, ["10.0.0.0/8"]) == "10.0.0.5"

    def test_ipv6_proxy(self):
        req = make_request("fd00::1", "2001:db8::42")
        assert client_ip(req, ["fd00::/8"]) == "2001:db8::42"
