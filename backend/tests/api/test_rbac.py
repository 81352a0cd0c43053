"""Every route and every role: the API enforces exactly the table in `core.permissions`.

The routes are read from the application itself, so a route is covered the day it is added.
One that declares no permission must be listed below as public or self-service, or
`test_every_route_declares_who_may_call_it` fails: a route cannot forget its check.

WebSocket routes check their caller on connect, outside FastAPI's dependencies, and are
tested against a real server in their own modules; each must be listed in `WEBSOCKETS`
with the permission it requires, so a new one cannot go unnoticed.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import WebSocketRoute

from api.dependencies.auth import bearer as bearer_scheme
from core.permissions import Permission, allowed
from main import create_app
from models.company import Company
from models.user import Role, User
from tests.factories import bearer, make_api_key, make_platform_admin, make_user

# No credentials needed: probes, docs, and the steps that lead to a token.
PUBLIC = frozenset(
    {
        "/health/live",
        "/health/ready",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/static-offline-docs",
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/2fa/verify",
        "/api/v1/auth/refresh",
        "/api/v1/auth/password-reset/request",
        "/api/v1/auth/password-reset/confirm",
        "/api/v1/auth/invitations/accept",
        # The signed link is the credential (local storage backend).
        "/files/{key:path}",
        # The verification code printed on a certificate is the credential.
        "/certificates/verify/{code}",
        # Tracking links of simulation emails: the recipient token is the credential.
        "/t/c/{token}",
        "/t/s/{token}",
        "/t/r/{token}",
    }
)
# Signed in, whatever the role: what anyone may do to their own account. An entry is a
# path (every method) or "METHOD path" (that method only).
SELF = frozenset(
    {
        "/api/v1/users/me",
        "/api/v1/users/me/password",
        "/api/v1/users/me/2fa/setup",
        "/api/v1/users/me/2fa/enable",
        "/api/v1/users/me/2fa/disable",
        "/api/v1/users/me/2fa/recovery-codes",
        "/api/v1/auth/logout",
        "/api/v1/auth/logout-all",
        # A learner's own training: their enrollments, quizzes and certificates.
        "/api/v1/me/enrollments",
        "/api/v1/me/enrollments/{enrollment_id}",
        "/api/v1/me/enrollments/{enrollment_id}/lessons/{lesson_id}",
        "/api/v1/me/enrollments/{enrollment_id}/lessons/{lesson_id}/complete",
        "/api/v1/me/enrollments/{enrollment_id}/quizzes/{lesson_id}/attempts",
        "/api/v1/me/enrollments/{enrollment_id}/quizzes/{lesson_id}/attempts/{attempt_id}/submit",
        "/api/v1/me/certificates",
        "/api/v1/me/certificates/{certificate_id}.pdf",
        # The report button: any employee (or a company API key) reports a suspicious email.
        "POST /api/v1/phishing/reports",
    }
)
# WebSocket routes, the permission each requires, and where that is tested.
WEBSOCKETS = {
    # tests/api/test_live.py
    "/api/v1/phishing/campaigns/{campaign_id}/live": Permission.phishing_manage,
}
ROLES = (Role.platform_admin, Role.admin, Role.manager, Role.learner)
_PATH_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    dependant: Dependant | None  # None for plain Starlette routes (docs assets)

    @property
    def permission(self) -> Permission | None:
        return _find_permission(self.dependant) if self.dependant else None

    @property
    def takes_credentials(self) -> bool:
        return self.dependant is not None and _depends_on(self.dependant, bearer_scheme)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _find_permission(dependant: Dependant) -> Permission | None:
    # `require(permission)` marks the dependency it returns with `.permission`.
    for dep in dependant.dependencies:
        found = getattr(dep.call, "permission", None) or _find_permission(dep)
        if found is not None:
            return found
    return None


def _depends_on(dependant: Dependant, call: Any) -> bool:
    return any(dep.call is call or _depends_on(dep, call) for dep in dependant.dependencies)


def _walk(routes: Iterable[Any]) -> Iterator[Endpoint]:
    for route in routes:
        if isinstance(route, WebSocketRoute):
            continue  # not HTTP: see WEBSOCKETS
        if hasattr(route, "effective_candidates"):
            # FastAPI >= 0.16x keeps an included router as one wrapper route; its
            # candidates carry the full path and the dependencies of each route.
            yield from _walk(route.effective_candidates())
        elif isinstance(route, APIRoute) or isinstance(
            getattr(route, "original_route", None), APIRoute
        ):
            for method in sorted(route.methods):
                yield Endpoint(method, route.path, route.dependant)
        else:
            path = getattr(route, "path", "") or route.starlette_route.path
            for method in sorted(getattr(route, "methods", None) or {"GET"}):
                yield Endpoint(method, path, None)


APP = create_app()
ENDPOINTS = sorted(_walk(APP.routes), key=str)
GUARDED = [e for e in ENDPOINTS if e.path not in PUBLIC]
WITH_PERMISSION = [e for e in GUARDED if e.permission is not None]


def is_self(endpoint: Endpoint) -> bool:
    return endpoint.path in SELF or str(endpoint) in SELF


SELF_SERVICE = [e for e in GUARDED if is_self(e)]


class Callers:
    """One user per role, an API key in each company, and ids to put in paths."""

    def __init__(self, tenant: Any, platform_admin: User, platform_peer: User) -> None:
        self.headers = {
            Role.platform_admin: bearer(platform_admin),
            Role.admin: tenant.admin_headers,
            Role.manager: tenant.manager_headers,
            Role.learner: tenant.learner_headers,
        }
        self.tenant = tenant
        self.platform_peer = platform_peer
        self.key_ids: dict[uuid.UUID, uuid.UUID] = {}

    def path_for(self, endpoint: Endpoint, role: Role) -> str:
        """The path with ids of things that exist in the caller's company where we have
        them (so an allowed call reaches the handler), else random ones."""
        tenant = self.tenant
        company_id = (
            self.platform_peer.company_id if role is Role.platform_admin else tenant.company.id
        )
        ids = {
            "user_id": self.platform_peer.id if role is Role.platform_admin else tenant.learner.id,
            # The customer company: the one a platform admin would act on.
            "company_id": tenant.company.id,
            "key_id": self.key_ids[company_id],
        }
        return _PATH_PARAM.sub(lambda m: str(ids.get(m.group(1), uuid.uuid4())), endpoint.path)


@pytest.fixture
async def callers(session, tenant) -> Callers:
    platform_admin = await make_platform_admin(session)
    platform_company = await session.get(Company, platform_admin.company_id)
    peer = await make_user(session, platform_company)
    made = Callers(tenant, platform_admin, peer)
    for company in (tenant.company, platform_company):
        key, _ = await make_api_key(session, company)
        made.key_ids[company.id] = key.id
    await session.commit()
    return made


async def call(client, endpoint: Endpoint, path: str, headers: dict[str, str] | None):
    # `{}` is a valid-ish body: a caller who is let through may still get 422 for it.
    body: dict[str, Any] | None = {} if endpoint.method in ("POST", "PUT", "PATCH") else None
    return await client.request(endpoint.method, path, json=body, headers=headers)


class TestRouteTable:
    def test_the_walk_finds_every_documented_route(self):
        walked = {(e.method.lower(), e.path) for e in ENDPOINTS}
        documented = {
            (method, path) for path, ops in APP.openapi()["paths"].items() for method in ops
        }
        assert documented <= walked
        assert len(WITH_PERMISSION) >= 10

    def test_no_route_is_declared_twice(self):
        names = [str(e) for e in ENDPOINTS]
        assert sorted({n for n in names if names.count(n) > 1}) == []

    def test_every_route_declares_who_may_call_it(self):
        undeclared = [str(e) for e in GUARDED if e.permission is None and not is_self(e)]
        assert undeclared == [], "give these routes a require(Permission.x) or list them"

    def test_self_service_routes_need_no_permission(self):
        assert [str(e) for e in SELF_SERVICE if e.permission is not None] == []

    def test_public_routes_take_no_credentials(self):
        assert [str(e) for e in ENDPOINTS if e.path in PUBLIC and e.takes_credentials] == []

    def test_every_listed_route_exists(self):
        paths = {e.path for e in ENDPOINTS} | {str(e) for e in ENDPOINTS}
        assert (PUBLIC | SELF) - paths == set()

    def test_every_websocket_route_is_listed(self):
        sockets = {r.path for r in APP.routes if isinstance(r, WebSocketRoute)}
        assert sockets == set(WEBSOCKETS)

    def test_every_permission_is_used(self):
        assert {e.permission for e in WITH_PERMISSION} == set(Permission)


@pytest.mark.parametrize("endpoint", GUARDED, ids=str)
async def test_no_token_is_401(client, endpoint):
    path = _PATH_PARAM.sub(lambda _: str(uuid.uuid4()), endpoint.path)
    r = await call(client, endpoint, path, None)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("role", ROLES, ids=str)
@pytest.mark.parametrize("endpoint", WITH_PERMISSION, ids=str)
async def test_each_role_gets_what_the_table_allows(client, callers, endpoint, role):
    r = await call(client, endpoint, callers.path_for(endpoint, role), callers.headers[role])
    if allowed(role, endpoint.permission):
        assert r.status_code not in (401, 403), r.text
        assert r.status_code < 500, r.text
    else:
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize("role", ROLES, ids=str)
@pytest.mark.parametrize("endpoint", SELF_SERVICE, ids=str)
async def test_self_service_lets_every_role_in(client, callers, endpoint, role):
    r = await call(client, endpoint, callers.path_for(endpoint, role), callers.headers[role])
    assert r.status_code not in (401, 403), r.text
    assert r.status_code < 500, r.text
