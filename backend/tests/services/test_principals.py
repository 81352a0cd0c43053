"""The cached principal is forgotten the moment a change that affects it commits."""

from __future__ import annotations

from tests.factories import bearer, make_platform_admin

ME = "/api/v1/users/me"


class TestPrincipalCacheInvalidation:
    async def test_disabling_takes_effect_on_the_next_request(self, client, tenant):
        assert (await client.get(ME, headers=tenant.learner_headers)).status_code == 200  # cached
        r = await client.patch(
            f"/api/v1/users/{tenant.learner.id}",
            json={"status": "disabled"},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 200
        assert (await client.get(ME, headers=tenant.learner_headers)).status_code == 401

    async def test_a_role_change_takes_effect_on_the_next_request(self, client, tenant):
        h = tenant.learner_headers
        assert (await client.get("/api/v1/users", headers=h)).status_code == 403  # cached
        r = await client.patch(
            f"/api/v1/users/{tenant.learner.id}",
            json={"role": "admin"},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 200
        assert (await client.get("/api/v1/users", headers=h)).status_code == 200

    async def test_suspending_the_company_takes_effect_on_the_next_request(
        self, client, session, tenant
    ):
        operator = await make_platform_admin(session)
        await session.commit()
        operator_headers = bearer(operator)
        # /users rests on the cached principal alone (no user row is read), unlike /users/me.
        users = "/api/v1/users"
        assert (await client.get(users, headers=tenant.admin_headers)).status_code == 200
        r = await client.patch(
            f"/api/v1/companies/{tenant.company.id}",
            json={"status": "suspended"},
            headers=operator_headers,
        )
        assert r.status_code == 200, r.text
        assert (await client.get(users, headers=tenant.admin_headers)).status_code == 401

    async def test_a_failed_change_keeps_the_principal(self, client, tenant):
        assert (await client.get(ME, headers=tenant.admin_headers)).status_code == 200
        r = await client.patch(
            f"/api/v1/users/{tenant.admin.id}",
            json={"role": "learner"},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 409  # cannot demote yourself: rolled back
        assert (await client.get("/api/v1/users", headers=tenant.admin_headers)).status_code == 200
