"""Outgoing connections to addresses a company chose, without becoming an SSRF proxy.

Used by site import (fetching a page) and webhooks (posting events):

- the host is resolved here and every address must be public (no loopback, private,
  link-local — cloud metadata included —, CGNAT, multicast or reserved, IPv4 or IPv6,
  mapped forms included), unless the operator allows private targets
  (`VIGIL_ALLOW_PRIVATE_NETWORK_TARGETS`);
- the connection goes to the address that was checked (`pinned_url` rewrites the URL to
  the IP; the Host header and TLS server name stay the original name), so a second DNS
  answer cannot swap in an internal address.
"""

from __future__ import annotations

import asyncio
import ipaddress
from urllib.parse import urlsplit, urlunsplit

from core.config import settings
from core.network import is_public_address


class TargetRefused(Exception):
    """The target is on a private or reserved network and private targets are not allowed."""


class TargetUnresolvable(Exception):
    """The host name has no address (or the resolver failed)."""


def is_local_name(host: str) -> bool:
    """Names that mean this machine whatever DNS says (RFC 6761)."""
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def check_literal_target(host: str) -> None:
    """Refuse, without any DNS, a host that is a forbidden IP literal or a local name.

    For a clear answer when a target is saved; names are checked again when they resolve."""
    if settings.private_targets_allowed:
        return
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if is_local_name(host):
            raise TargetRefused(host) from None
        return
    if not is_public_address(host.strip("[]")):
        raise TargetRefused(host)


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port)
    except OSError as exc:
        raise TargetUnresolvable(host) from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise TargetUnresolvable(host)
    return addresses


async def checked_address(host: str, port: int) -> str:
    """The address to connect to for `host`, after checking all of its addresses."""
    check_literal_target(host)
    addresses = await resolve(host, port)
    if not settings.private_targets_allowed and any(not is_public_address(a) for a in addresses):
        raise TargetRefused(host)
    return addresses[0]


def pinned_url(url: str, address: str) -> tuple[str, str]:
    """`url` with its host replaced by `address`, and the original host name (for SNI)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc_ip = f"[{address}]" if ":" in address else address
    if parts.port:
        netloc_ip += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc_ip, parts.path or "/", parts.query, "")), host


def host_header(url: str) -> str:
    """The Host header for `url`: host and port as written, without any credentials."""
    return urlsplit(url).netloc.rsplit("@", 1)[-1]
