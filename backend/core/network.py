"""Who is calling: the client address, trusting forwarded headers only from known proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from starlette.requests import HTTPConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def _is_trusted(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def is_public_address(address: str) -> bool:
    """False for loopback, private, link-local, CGNAT, multicast, reserved and unspecified
    addresses, IPv4 or IPv6 (IPv4-mapped IPv6 is judged as the IPv4 it carries)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def client_ip(conn: HTTPConnection, trusted_proxies: Iterable[str]) -> str:
    """The socket peer, unless it is a trusted proxy: then the nearest untrusted hop of
    `X-Forwarded-For`, read from the right, so a client cannot forge its own address."""
    peer = conn.client.host if conn.client else "unknown"
    return client_address(peer, conn.headers.get("x-forwarded-for", ""), trusted_proxies)


def client_address(peer: str, forwarded_for: str, trusted_proxies: Iterable[str]) -> str:
    """`client_ip` from the peer address and the `X-Forwarded-For` header's value."""
    networks = _networks(tuple(trusted_proxies))
    if not networks or not _is_trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return hops[0] if hops else peer
