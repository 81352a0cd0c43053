"""The security log: what gets recorded, the filters, tenant isolation, and no way to edit it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from models.audit_log import AuditLog
from tests.support.api import login

LOGS = "/api/v1/audit-logs"


async def list_entries(client, headers, **params) -> list[dict]:
    r = await client.get(LOGS, params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def add_entries(session, company_id: uuid.UUID, *specs: tuple[str, datetime]) -> None:
    """Entries written straight to the table, for filters that need set times."""
    session.add_all(
        AuditLog(company_id=company_id, action=action, occurred_at=at) for action, at in specs
    )
    await session.commit()


class TestRecordedActions:
    async def test_actions_appear_newest_first(self, client, tenant):
        assert (await login(client, tenant.learner.email)).status_code == 200
        r = await client.post(
            "/api/v1/users",
            json={"email": "ida@acme.example.com", "send_invitation": False},
            headers={**tenant.admin_headers, "User-Agent": "audit-test/1.0"},
        )
        assert r.status_code == 201
        new_id = r.json()["id"]
        r = await client.patch(
            f"/api/v1/users/{new_id}", json={"role": "manager"}, headers=tenant.admin_headers
        )
        assert r.status_code == 200
        entries = await list_entries(client, tenant.admin_headers)
        assert [e["action"] for e in entries] == [
            "user.role_changed",
            "user.created",
            "auth.login.succeeded",
        ]
        created = entries[1]
        assert created["actor_user_id"] == str(tenant.admin.id)
        assert created["actor_email"] == tenant.admin.email
        assert created["target_type"] == "user"
        assert created["target_id"] == new_id
        assert created["ip"] == "203.0.113.7"
        assert created["user_agent"] == "audit-test/1.0"
        assert created["request_id"]
        assert entries[0]["changes"] == {"role": ["learner", "manager"]}

    async def test_refusals_are_recorded_although_the_request_fails(self, client, tenant):
        assert (await login(client, tenant.learner.email, "not-the-password")).status_code == 401
        (entry,) = await list_entries(client, tenant.admin_headers)
        assert entry["action"] == "auth.login.failed"
        assert entry["target_id"] == str(tenant.learner.id)
        assert "not-the-password" not in str(entry)


class TestFilters:
    async def test_action_matches_whole_dotted_prefixes(self, client, tenant):
        assert (await login(client, tenant.learner.email)).status_code == 200
        assert (await login(client, tenant.learner.email, "wrong-password-x")).status_code == 401
        await client.post(
            "/api/v1/users",
            json={"email": "ida@acme.example.com", "send_invitation": False},
            headers=tenant.admin_headers,
        )

        async def actions(prefix: str) -> set[str]:
            return {
                e["action"] for e in await list_entries(client, tenant.admin_headers, action=prefix)
            }

        assert await actions("auth.login") == {"auth.login.succeeded", "auth.login.failed"}
        assert await actions("auth") == {"auth.login.succeeded", "auth.login.failed"}
        assert await actions("auth.login.failed") == {"auth.login.failed"}
        assert await actions("user") == {"user.created"}
        assert await actions("auth.log") == set()  # a prefix ends at a dot
        assert await actions("%") == set()  # taken literally

    async def test_actor_user_id(self, client, tenant):
        await login(client, tenant.learner.email)
        await client.patch(
            f"/api/v1/users/{tenant.learner.id}",
            json={"role": "manager"},
            headers=tenant.admin_headers,
        )
        entries = await list_entries(
            client, tenant.admin_headers, actor_user_id=str(tenant.admin.id)
        )
        assert [e["action"] for e in entries] == ["user.role_changed"]

    async def test_target_id(self, client, tenant):
        await login(client, tenant.learner.email)
        await login(client, tenant.manager.email)
        entries = await list_entries(client, tenant.admin_headers, target_id=str(tenant.manager.id))
        assert [(e["action"], e["target_id"]) for e in entries] == [
            ("auth.login.succeeded", str(tenant.manager.id))
        ]

    async def test_since_is_inclusive_and_until_exclusive(self, session, client, tenant):
        day = datetime(2025, 3, 1, tzinfo=UTC)
        await add_entries(
            session,
            tenant.company.id,
            ("test.before", day - timedelta(seconds=1)),
            ("test.start", day),
            ("test.inside", day + timedelta(hours=12)),
            ("test.end", day + timedelta(days=1)),
        )
        entries = await list_entries(
            client,
            tenant.admin_headers,
            since=day.isoformat(),
            until=(day + timedelta(days=1)).isoformat(),
        )
        assert {e["action"] for e in entries} == {"test.start", "test.inside"}

    @pytest.mark.parametrize("param", ["since", "until"])
    async def test_time_without_offset_is_422(self, client, tenant, param):
        r = await client.get(
            LOGS, params={param: "2025-03-01T00:00:00"}, headers=tenant.admin_headers
        )
        assert r.status_code == 422

    async def test_pages_cover_every_entry_once(self, session, client, tenant):
        start = datetime(2025, 3, 1, tzinfo=UTC)
        await add_entries(
            session,
            tenant.company.id,
            *((f"test.n{i}", start + timedelta(minutes=i)) for i in range(7)),
        )
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            r = await client.get(LOGS, params=params, headers=tenant.admin_headers)
            assert r.status_code == 200
            seen += [e["id"] for e in r.json()["items"]]
            cursor = r.json()["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 7
        assert seen == sorted(seen, reverse=True)


class TestIsolation:
    async def test_other_companys_entries_never_appear(self, client, tenant, other_tenant):
        await login(client, other_tenant.learner.email)
        await login(client, other_tenant.learner.email, "wrong-password-x")
        await login(client, "nobody@nowhere.example.com")  # an entry of no company
        await login(client, tenant.learner.email)
        entries = await list_entries(client, tenant.admin_headers)
        assert [e["target_id"] for e in entries] == [str(tenant.learner.id)]
        # Filtering straight at the other company's user finds nothing either.
        assert (
            await list_entries(client, tenant.admin_headers, target_id=str(other_tenant.learner.id))
            == []
        )


class TestAppendOnly:
    @pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
    @pytest.mark.parametrize("with_id", [False, True], ids=["list", "entry"])
    async def test_no_route_changes_or_deletes_an_entry(
        self, client, session, tenant, method, with_id
    ):
        await login(client, tenant.learner.email)
        entry = await session.scalar(select(AuditLog))
        path = f"{LOGS}/{entry.id}" if with_id else LOGS
        r = await client.request(
            method, path, json={"action": "nothing.happened"}, headers=tenant.admin_headers
        )
        assert r.status_code in (404, 405)
        after = await session.scalar(select(AuditLog.action).where(AuditLog.id == entry.id))
        assert after == "auth.login.succeeded"


class TestWhoReadsTheLog:
    @pytest.mark.parametrize("role", ["manager", "learner"])
    async def test_only_admins(self, client, tenant, role):
        r = await client.get(LOGS, headers=getattr(tenant, f"{role}_headers"))
        assert r.status_code == 403
