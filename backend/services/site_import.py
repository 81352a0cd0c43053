"""Fetching a web page to turn into a landing page, without becoming an SSRF proxy.

- http and https only;
- the host must resolve to public addresses only and the connection goes to the address
  that was checked (`core.outbound`, shared with webhooks);
- redirects are followed by hand, at most five, each one checked the same way;
- the body is read up to a size cap, the whole fetch within a time cap.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urljoin, urlsplit

import httpx

from core.exceptions import BadRequest
from core.outbound import (
    TargetRefused,
    TargetUnresolvable,
    checked_address,
    host_header,
    pinned_url,
)

MAX_BYTES = 2 * 1024 * 1024
TIMEOUT_SECONDS = 10.0
MAX_REDIRECTS = 5


class FetchRefused(BadRequest):
    code = "fetch_refused"
    message = "This address cannot be fetched."


class FetchFailed(BadRequest):
    code = "fetch_failed"
    message = "The page could not be fetched."


async def _checked_address(host: str, port: int) -> str:
    try:
        return await checked_address(host, port)
    except TargetUnresolvable as exc:
        raise FetchFailed(f"The host '{host}' could not be resolved.") from exc
    except TargetRefused as exc:
        raise FetchRefused("The address is on a private or reserved network.") from exc


async def _fetch_once(client: httpx.AsyncClient, url: str) -> httpx.Response | tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchRefused("Only http and https addresses can be fetched.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = await _checked_address(parts.hostname, port)
    pinned, host = pinned_url(url, address)
    request = client.build_request(
        "GET",
        pinned,
        headers={"Host": host_header(url), "User-Agent": "Mozilla/5.0 Vigil"},
        extensions={"sni_hostname": host},
    )
    response = await client.send(request, stream=True)
    if response.is_redirect:
        location = response.headers.get("location", "")
        await response.aclose()
        return ("redirect", urljoin(url, location))
    return response


async def fetch_page(url: str) -> str:
    """The HTML at `url`, following checked redirects, within the size and time caps."""
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS):
                for _ in range(MAX_REDIRECTS + 1):
                    result = await _fetch_once(client, url)
                    if isinstance(result, tuple):
                        url = result[1]
                        continue
                    return await _read_capped(result)
        except TimeoutError as exc:
            raise FetchFailed("The site took too long to answer.") from exc
        except httpx.HTTPError as exc:
            raise FetchFailed(f"The site could not be reached ({type(exc).__name__}).") from exc
    raise FetchFailed(f"More than {MAX_REDIRECTS} redirects.")


async def _read_capped(response: httpx.Response) -> str:
    try:
        if response.status_code >= 400:
            raise FetchFailed(f"The site answered {response.status_code}.")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_BYTES:
                raise FetchFailed(f"The page is larger than {MAX_BYTES // 1024 // 1024} MB.")
            chunks.append(chunk)
    finally:
        await response.aclose()
    return b"".join(chunks).decode(response.encoding or "utf-8", errors="replace")
