"""Company API keys: created and shown once, used as bearer tokens, scoped, revoked."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from models.api_key import ApiKey
from models.audit_log import AuditLog
from models.company import Company, CompanyStatus
from models.user import User

KEYS = "/api/v1/api-keys"
USERS = "/api/v1/users"


async def create_key(client, tenant, *, scope: str = "read", name: str = "HR sync") -> dict:
    r = await client.post(KEYS, json={"name": name, "scope": scope}, headers=tenant.admin_headers)
    assert r.status_code == 201, r.text
    return r.json()


def key_headers(created: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {created['key']}"}


async def count(session, model) -> int:
    return await session.scalar(select(func.count()).select_from(model))


async def audit_entries(session, action: str) -> list[AuditLog]:
    return list((await session.scalars(select(AuditLog).where(AuditLog.action == action))).all())


class TestCreateKey:
    async def test_shows_the_key_once(self, client, session, tenant):
        created = await create_key(client, tenant, scope="read_write")
        secret = created["key"]
        assert secret.startswith("vk_")
        assert len(secret) >= 40
        assert created["prefix"] == secret[:10]
        assert created["scope"] == "read_write"
        assert created["created_by_id"] == str(tenant.admin.id)
        listed = await client.get(KEYS, headers=tenant.admin_headers)
        assert listed.status_code == 200
        assert [k["id"] for k in listed.json()["items"]] == [created["id"]]
        assert "key" not in listed.json()["items"][0]
        assert secret not in listed.text
        stored = await session.get(ApiKey, uuid.UUID(created["id"]))
        assert secret not in (stored.key_hash, stored.prefix)

    async def test_is_audited(self, client, session, tenant):
        created = await create_key(client, tenant, name="SIEM export")
        (entry,) = await audit_entries(session, "api_key.created")
        assert entry.company_id == tenant.company.id
        assert entry.actor_user_id == tenant.admin.id
        assert entry.target_id == created["id"]
        assert entry.changes == {"name": "SIEM export", "scope": "read"}
        assert created["key"] not in str(entry.changes)

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param({}, id="no-name"),
            pytest.param({"name": ""}, id="empty-name"),
            pytest.param({"name": "k", "scope": "admin"}, id="unknown-scope"),
            pytest.param({"name": "k", "company_id": str(uuid.uuid4())}, id="company_id"),
        ],
    )
    async def test_bad_input_is_422_and_creates_nothing(self, client, session, tenant, body):
        r = await client.post(KEYS, json=body, headers=tenant.admin_headers)
        assert r.status_code == 422
        assert await count(session, ApiKey) == 0
        assert await count(session, AuditLog) == 0


class TestKeyAuthentication:
    async def test_key_reads_the_companys_users(self, client, tenant, other_tenant):
        created = await create_key(client, tenant)
        r = await client.get(USERS, headers=key_headers(created))
        assert r.status_code == 200, r.text
        assert {u["company_id"] for u in r.json()["items"]} == {str(tenant.company.id)}
        assert len(r.json()["items"]) == 3

    async def test_read_key_cannot_write(self, client, session, tenant):
        created = await create_key(client, tenant, scope="read")
        r = await client.post(
            USERS, json={"email": "bot@acme.example.com"}, headers=key_headers(created)
        )
        assert r.status_code == 403
        assert await count(session, User) == 3

    async def test_read_write_key_can_write_and_is_the_recorded_actor(
        self, client, session, tenant
    ):
        created = await create_key(client, tenant, scope="read_write")
        r = await client.post(
            USERS,
            json={"email": "bot@acme.example.com", "send_invitation": False},
            headers=key_headers(created),
        )
        assert r.status_code == 201, r.text
        (entry,) = await audit_entries(session, "user.created")
        assert entry.actor_api_key_id == uuid.UUID(created["id"])
        assert entry.actor_user_id is None

    async def test_use_sets_last_used_at(self, client, tenant):
        created = await create_key(client, tenant)
        assert created["last_used_at"] is None
        assert (await client.get(USERS, headers=key_headers(created))).status_code == 200
        listed = await client.get(KEYS, headers=tenant.admin_headers)
        assert listed.json()["items"][0]["last_used_at"] is not None

    async def test_key_of_a_suspended_company_is_401(self, client, session, tenant):
        created = await create_key(client, tenant)
        company = await session.get(Company, tenant.company.id)
        company.status = CompanyStatus.suspended
        await session.commit()
        r = await client.get(USERS, headers=key_headers(created))
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_token"

    async def test_unknown_key_is_401(self, client, tenant):
        await create_key(client, tenant)
        r = await client.get(USERS, headers={"Authorization": "Bearer vk_" + "x" * 43})
        assert r.status_code == 401

    async def test_key_is_not_a_signed_in_user(self, client, tenant):
        created = await create_key(client, tenant, scope="read_write")
        r = await client.get(f"{USERS}/me", headers=key_headers(created))
        assert r.status_code == 403


class TestRevokeKey:
    async def test_revoked_key_is_refused_at_once(self, client, session, tenant):
        created = await create_key(client, tenant)
        assert (await client.get(USERS, headers=key_headers(created))).status_code == 200
        r = await client.delete(f"{KEYS}/{created['id']}", headers=tenant.admin_headers)
        assert r.status_code == 204
        after = await client.get(USERS, headers=key_headers(created))
        assert after.status_code == 401
        listed = await client.get(KEYS, headers=tenant.admin_headers)
        assert listed.json()["items"][0]["revoked_at"] is not None
        (entry,) = await audit_entries(session, "api_key.revoked")
        assert entry.target_id == created["id"]
        assert entry.actor_user_id == tenant.admin.id

    async def test_revoking_again_changes_nothing(self, client, session, tenant):
        created = await create_key(client, tenant)
        path = f"{KEYS}/{created['id']}"
        assert (await client.delete(path, headers=tenant.admin_headers)).status_code == 204
        assert (await client.delete(path, headers=tenant.admin_headers)).status_code == 204
        assert len(await audit_entries(session, "api_key.revoked")) == 1

    async def test_other_companys_key_is_404_and_keeps_working(
        self, client, session, tenant, other_tenant
    ):
        created = await create_key(client, tenant)
        r = await client.delete(f"{KEYS}/{created['id']}", headers=other_tenant.admin_headers)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "api_key_not_found"
        assert (await client.get(USERS, headers=key_headers(created))).status_code == 200
        assert await audit_entries(session, "api_key.revoked") == []

    async def test_other_companys_keys_are_not_listed(self, client, tenant, other_tenant):
        await create_key(client, tenant)
        r = await client.get(KEYS, headers=other_tenant.admin_headers)
        assert r.status_code == 200
        assert r.json()["items"] == []

    async def test_unknown_key_is_404(self, client, tenant):
        r = await client.delete(f"{KEYS}/{uuid.uuid4()}", headers=tenant.admin_headers)
        assert r.status_code == 404


class TestWhoManagesKeys:
    @pytest.mark.parametrize("role", ["manager", "learner"])
    @pytest.mark.parametrize(
        ("method", "suffix", "body"),
        [("GET", "", None), ("POST", "", {"name": "mine"}), ("DELETE", "/{id}", None)],
    )
    async def test_only_admins(self, client, session, tenant, role, method, suffix, body):
        created = await create_key(client, tenant)
        headers = getattr(tenant, f"{role}_headers")
        r = await client.request(
            method, KEYS + suffix.format(id=created["id"]), json=body, headers=headers
        )
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "permission_denied"
        assert await count(session, ApiKey) == 1
        assert (await client.get(USERS, headers=key_headers(created))).status_code == 200


class TestKeysCannotEscalate:
    async def test_a_read_write_key_cannot_mint_keys_or_change_security_settings(
        self, client, tenant
    ):
        r = await client.post(
            "/api/v1/api-keys",
            json={"name": "rw", "scope": "read_write"},
            headers=tenant.admin_headers,
        )
        key = {"Authorization": f"Bearer {r.json()['key']}"}
        assert (
            await client.post("/api/v1/api-keys", json={"name": "more"}, headers=key)
        ).status_code == 403
        assert (await client.get("/api/v1/api-keys", headers=key)).status_code == 403
        r = await client.patch(
            "/api/v1/companies/me", json={"require_2fa_for_admins": False}, headers=key
        )
        assert r.status_code == 403
        assert (await client.get("/api/v1/users", headers=key)).status_code == 200
