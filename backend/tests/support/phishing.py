"""Arrange a phishing campaign through the API: profile, template, group, campaign."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

PHISHING = "/api/v1/phishing"


async def make_profile(
    client: AsyncClient,
    headers: dict[str, str],
    host: str = "127.0.0.1",
    port: int = 25,
    **extra: Any,
) -> str:
    body = {
        "name": "Relay",
        "host": host,
        "port": port,
        "security": "none",
        "from_address": "IT Service Desk <it@acme-support.example.com>",
        **extra,
    }
    r = await client.post(f"{PHISHING}/sending-profiles", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def make_template(client: AsyncClient, headers: dict[str, str], **extra: Any) -> str:
    body = {
        "name": "Password expiry",
        "subject": "{{ first_name }}, your password expires today",
        "html": '<p>Hi {{ first_name }} {{ last_name }},</p><p><a href="{{ url }}">Keep it</a>'
        "</p>{{ tracking_pixel }}",
        "text": "Hi {{ first_name }}, keep your password: {{ url }}",
        **extra,
    }
    r = await client.post(f"{PHISHING}/templates", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def make_static_group(
    client: AsyncClient, headers: dict[str, str], user_ids: list[str], name: str = "Finance"
) -> str:
    r = await client.post("/api/v1/groups", json={"name": name, "kind": "static"}, headers=headers)
    assert r.status_code == 201, r.text
    group_id = str(r.json()["id"])
    if user_ids:
        r = await client.post(
            f"/api/v1/groups/{group_id}/members", json={"user_ids": user_ids}, headers=headers
        )
        assert r.status_code in (200, 201, 204), r.text
    return group_id


async def make_campaign(
    client: AsyncClient,
    headers: dict[str, str],
    *,
    profile_id: str,
    template_ids: list[str],
    group_ids: list[str] | None = None,
    user_ids: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body = {
        "name": "Q4 password lure",
        "sending_profile_id": profile_id,
        "template_ids": template_ids,
        "group_ids": group_ids or [],
        "user_ids": user_ids or [],
        **extra,
    }
    r = await client.post(f"{PHISHING}/campaigns", json=body, headers=headers)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def make_campaign_for(
    client: AsyncClient, headers: dict[str, str], user_ids: list[str], **extra: Any
) -> dict[str, Any]:
    """A draft campaign with its own profile and template, sent to `user_ids`."""
    profile = await make_profile(client, headers)
    template = await make_template(client, headers)
    return await make_campaign(
        client, headers, profile_id=profile, template_ids=[template], user_ids=user_ids, **extra
    )
