"""Calls many API tests make the same way."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient, Response

from tests.factories import DEFAULT_PASSWORD

LOGIN = "/api/v1/auth/login"


async def login(client: AsyncClient, email: str, password: str = DEFAULT_PASSWORD) -> Response:
    return await client.post(LOGIN, json={"email": email, "password": password})


async def signed_in(client: AsyncClient, email: str, password: str = DEFAULT_PASSWORD) -> Any:
    """Log in and return the token response body; the login must succeed."""
    r = await login(client, email, password)
    assert r.status_code == 200, r.text
    return r.json()
