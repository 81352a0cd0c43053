"""A company's own settings, and the platform admin's list of companies (suspend, reactivate)."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from sqlalchemy import func, select

from models.audit_log import AuditLog
from models.company import Company, CompanyStatus
from tests.factories import bearer, make_api_key, make_platform_admin
from tests.support.api import login

ME = "/api/v1/companies/me"
COMPANIES = "/api/v1/companies"


async def company_state(session) -> tuple[list[tuple], int]:
    """Every company row and the audit log size: a refused request leaves both as they were."""
    rows = await session.execute(
        select(
            Company.id,
            Company.name,
            Company.status,
            Company.email_domains,
            Company.default_timezone,
            Company.default_locale,
            Company.require_2fa_for_admins,
            Company.is_platform,
        ).order_by(Company.id)
    )
    audit = await session.scalar(select(func.count()).select_from(AuditLog))
    return [tuple(row) for row in rows], audit


async def audit_entries(session, action: str) -> list[AuditLog]:
    return list((await session.scalars(select(AuditLog).where(AuditLog.action == action))).all())


class TestMyCompany:
    @pytest.mark.parametrize("role", ["admin", "manager"])
    async def test_admin_and_manager_read_it(self, client, tenant, role):
        r = await client.get(ME, headers=getattr(tenant, f"{role}_headers"))
        assert r.status_code == 200
        body = r.json()
        assert body["id"] == str(tenant.company.id)
        assert body["name"] == "Acme"
        assert body["status"] == "active"
        assert "is_platform" not in body

    async def test_learner_may_not_read_it(self, client, tenant):
        r = await client.get(ME, headers=tenant.learner_headers)
        assert r.status_code == 403

    @pytest.mark.parametrize("role", ["manager", "learner"])
    async def test_only_admins_change_it(self, client, session, tenant, role):
        before = await company_state(session)
        r = await client.patch(
            ME, json={"name": "Taken over"}, headers=getattr(tenant, f"{role}_headers")
        )
        assert r.status_code == 403
        assert await company_state(session) == before

    async def test_change_is_audited_with_before_and_after(self, client, session, tenant):
        r = await client.patch(
            ME,
            json={
                "name": "Acme Corp",
                "email_domains": ["Acme.example.com", "acme-mail.example.com"],
                "default_timezone": "Europe/Berlin",
                "require_2fa_for_admins": True,
            },
            headers=tenant.admin_headers,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["email_domains"] == ["acme.example.com", "acme-mail.example.com"]
        assert body["require_2fa_for_admins"] is True
        company = await session.get(Company, tenant.company.id, populate_existing=True)
        assert company.name == "Acme Corp"
        assert company.default_timezone == "Europe/Berlin"
        (entry,) = await audit_entries(session, "company.settings_changed")
        assert entry.company_id == tenant.company.id
        assert entry.actor_user_id == tenant.admin.id
        assert entry.changes == {
            "name": ["Acme", "Acme Corp"],
            "email_domains": [[], ["acme.example.com", "acme-mail.example.com"]],
            "default_timezone": ["UTC", "Europe/Berlin"],
            "require_2fa_for_admins": [False, True],
        }

    async def test_response_is_the_saved_row(self, client, session, tenant):
        r = await client.patch(ME, json={"name": "Acme Corp"}, headers=tenant.admin_headers)
        assert r.status_code == 200
        company = await session.get(Company, tenant.company.id, populate_existing=True)
        assert datetime.fromisoformat(r.json()["updated_at"]) == company.updated_at
        assert company.updated_at > company.created_at

    async def test_unchanged_settings_record_nothing(self, client, session, tenant):
        r = await client.patch(ME, json={"name": "Acme"}, headers=tenant.admin_headers)
        assert r.status_code == 200
        assert await audit_entries(session, "company.settings_changed") == []

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param({"email_domains": ["not a domain"]}, id="invalid-domain"),
            pytest.param({"email_domains": ["-acme.example.com"]}, id="leading-dash"),
            pytest.param({"email_domains": ["acme"]}, id="no-tld"),
            pytest.param({"default_timezone": "Mars/Olympus"}, id="unknown-timezone"),
            pytest.param({"name": ""}, id="empty-name"),
            pytest.param({"status": "suspended"}, id="status"),
            pytest.param({"is_platform": True}, id="is_platform"),
            pytest.param({"id": str(uuid.uuid4())}, id="id"),
        ],
    )
    async def test_bad_input_is_422_and_changes_nothing(self, client, session, tenant, body):
        before = await company_state(session)
        r = await client.patch(ME, json=body, headers=tenant.admin_headers)
        assert r.status_code == 422, r.text
        assert await company_state(session) == before

    async def test_change_stays_in_my_company(self, client, session, tenant, other_tenant):
        r = await client.patch(ME, json={"name": "Acme 2"}, headers=tenant.admin_headers)
        assert r.status_code == 200
        other = await client.get(ME, headers=other_tenant.admin_headers)
        assert other.json()["name"] == "Globex"


class TestPlatformCompanies:
    @pytest.fixture
    async def operator(self, session) -> dict[str, str]:
        """Headers of a platform admin."""
        admin = await make_platform_admin(session)
        await session.commit()
        return bearer(admin)

    async def suspend(self, client, operator, company_id: uuid.UUID, status: str = "suspended"):
        return await client.patch(
            f"{COMPANIES}/{company_id}", json={"status": status}, headers=operator
        )

    async def test_lists_customer_companies_but_not_its_own(
        self, client, tenant, other_tenant, operator
    ):
        r = await client.get(COMPANIES, headers=operator)
        assert r.status_code == 200, r.text
        names = {c["name"] for c in r.json()["items"]}
        assert names == {"Acme", "Globex"}

    async def test_filters_by_status(self, client, tenant, other_tenant, operator):
        assert (await self.suspend(client, operator, tenant.company.id)).status_code == 200
        r = await client.get(COMPANIES, params={"status": "suspended"}, headers=operator)
        assert [c["id"] for c in r.json()["items"]] == [str(tenant.company.id)]

    async def test_suspending_locks_the_company_out(
        self, client, session, tenant, other_tenant, operator
    ):
        _, secret = await make_api_key(session, tenant.company)
        await session.commit()
        r = await self.suspend(client, operator, tenant.company.id)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "suspended"
        # Tokens issued before, new logins, and API keys all stop working.
        for headers in (tenant.admin_headers, tenant.learner_headers):
            assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 401
        refused = await login(client, tenant.admin.email)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "account_unavailable"
        key = await client.get("/api/v1/users", headers={"Authorization": f"Bearer {secret}"})
        assert key.status_code == 401
        # The other company is not affected.
        other = await client.get("/api/v1/users/me", headers=other_tenant.admin_headers)
        assert other.status_code == 200
        (entry,) = await audit_entries(session, "company.suspended")
        assert entry.company_id == tenant.company.id  # in the company's own log
        assert entry.changes == {"status": ["active", "suspended"]}
        assert entry.actor_user_id is not None

    async def test_response_is_the_saved_row(self, client, session, tenant, operator):
        r = await self.suspend(client, operator, tenant.company.id)
        assert r.status_code == 200
        company = await session.get(Company, tenant.company.id, populate_existing=True)
        assert company.status is CompanyStatus.suspended
        assert datetime.fromisoformat(r.json()["updated_at"]) == company.updated_at

    async def test_reactivating_lets_the_company_back_in(self, client, session, tenant, operator):
        _, secret = await make_api_key(session, tenant.company)
        await session.commit()
        assert (await self.suspend(client, operator, tenant.company.id)).status_code == 200
        r = await self.suspend(client, operator, tenant.company.id, "active")
        assert r.status_code == 200
        assert r.json()["status"] == "active"
        assert (
            await client.get("/api/v1/users/me", headers=tenant.admin_headers)
        ).status_code == 200
        assert (await login(client, tenant.admin.email)).status_code == 200
        key = await client.get("/api/v1/users", headers={"Authorization": f"Bearer {secret}"})
        assert key.status_code == 200
        assert len(await audit_entries(session, "company.reactivated")) == 1

    async def test_unknown_company_is_404(self, client, session, tenant, operator):
        before = await company_state(session)
        r = await self.suspend(client, operator, uuid.uuid4())
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "company_not_found"
        assert await company_state(session) == before

    async def test_platform_company_cannot_be_suspended(self, client, session, operator):
        platform = await session.scalar(select(Company).where(Company.is_platform.is_(True)))
        before = await company_state(session)
        r = await self.suspend(client, operator, platform.id)
        assert r.status_code == 404
        assert await company_state(session) == before

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param({"status": "deleted"}, id="unknown-status"),
            pytest.param({}, id="no-status"),
            pytest.param({"status": "suspended", "name": "Renamed"}, id="other-field"),
        ],
    )
    async def test_bad_input_is_422_and_changes_nothing(
        self, client, session, tenant, operator, body
    ):
        before = await company_state(session)
        r = await client.patch(f"{COMPANIES}/{tenant.company.id}", json=body, headers=operator)
        assert r.status_code == 422
        assert await company_state(session) == before

    @pytest.mark.parametrize("role", ["admin", "manager", "learner"])
    async def test_customers_may_not_list_or_suspend(
        self, client, session, tenant, other_tenant, role
    ):
        headers = getattr(tenant, f"{role}_headers")
        before = await company_state(session)
        assert (await client.get(COMPANIES, headers=headers)).status_code == 403
        r = await client.patch(
            f"{COMPANIES}/{other_tenant.company.id}", json={"status": "suspended"}, headers=headers
        )
        assert r.status_code == 403
        assert await company_state(session) == before


class TestDeleteCompany:
    async def test_platform_admin_closes_a_company(self, client, session, tenant, other_tenant):
        from tests.factories import bearer, make_platform_admin

        operator = await make_platform_admin(session)
        await session.commit()
        h = bearer(operator)
        assert (await client.get("/api/v1/users", headers=tenant.admin_headers)).status_code == 200
        r = await client.delete(f"/api/v1/companies/{tenant.company.id}", headers=h)
        assert r.status_code == 204
        assert (await client.get("/api/v1/users", headers=tenant.admin_headers)).status_code == 401
        login = await client.post(
            "/api/v1/auth/login",
            json={"email": tenant.learner.email, "password": "correct-horse-battery-staple"},
        )
        assert login.status_code == 401  # a closed company's accounts no longer exist
        listed = (await client.get("/api/v1/companies", headers=h)).json()["items"]
        assert [c["id"] for c in listed] == [str(other_tenant.company.id)]
        again = await client.delete(f"/api/v1/companies/{tenant.company.id}", headers=h)
        assert again.status_code == 404

    async def test_an_ordinary_admin_cannot_close_a_company(self, client, tenant, other_tenant):
        r = await client.delete(
            f"/api/v1/companies/{other_tenant.company.id}", headers=tenant.admin_headers
        )
        assert r.status_code == 403
        r = await client.delete(
            f"/api/v1/companies/{tenant.company.id}", headers=tenant.admin_headers
        )
        assert r.status_code == 403
