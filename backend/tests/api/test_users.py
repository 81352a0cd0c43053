"""A company's users (admin) and the signed-in user's own profile, end to end."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from models.audit_log import AuditLog
from models.auth import UserToken
from models.user import Role, User, UserStatus
from tests.factories import make_user
from tests.support.api import signed_in
from tests.support.mail import outbox_messages

USERS = "/api/v1/users"


def headers_of(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def db_state(session) -> tuple[list[tuple], int, int]:
    """Every user row (deleted ones too), the audit log size and the number of link tokens:
    a refused request must leave all three as they were."""
    users = await session.execute(
        select(
            User.id,
            User.email,
            User.role,
            User.status,
            User.first_name,
            User.manager_id,
            User.timezone,
            User.deleted_at,
            User.sessions_valid_after,
        )
        .order_by(User.id)
        .execution_options(include_deleted=True)
    )
    audit = await session.scalar(select(func.count()).select_from(AuditLog))
    tokens = await session.scalar(select(func.count()).select_from(UserToken))
    return [tuple(row) for row in users], audit, tokens


async def reload_user(session, user_id: uuid.UUID) -> User:
    """The row as the database has it now (the test session may hold an older copy)."""
    user = await session.get(
        User, user_id, populate_existing=True, execution_options={"include_deleted": True}
    )
    assert user is not None
    return user


async def audit_entries(session, action: str) -> list[AuditLog]:
    return list((await session.scalars(select(AuditLog).where(AuditLog.action == action))).all())


class TestCreateUser:
    async def test_admin_creates_an_invited_user_and_emails_an_invitation(
        self, client, session, tenant
    ):
        address = "pat.new@acme.example.com"
        sent_before = len(outbox_messages(address))
        r = await client.post(
            USERS,
            json={
                "email": "Pat.New@Acme.example.com",
                "first_name": "Pat",
                "department": "Sales",
                "role": "manager",
                "timezone": "Europe/Paris",
                "manager_id": str(tenant.admin.id),
            },
            headers=tenant.admin_headers,
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["email"] == address
        assert body["status"] == "invited"
        assert body["role"] == "manager"
        assert body["company_id"] == str(tenant.company.id)
        assert body["manager_id"] == str(tenant.admin.id)
        assert len(outbox_messages(address)) == sent_before + 1
        created = await reload_user(session, uuid.UUID(body["id"]))
        assert created.company_id == tenant.company.id
        assert created.password_hash is None
        actions = {e.action for e in await session.scalars(select(AuditLog))}
        assert {"user.created", "user.invited"} <= actions

    async def test_without_invitation_no_email_is_sent(self, client, tenant):
        address = "quiet.one@acme.example.com"
        sent_before = len(outbox_messages(address))
        r = await client.post(
            USERS,
            json={"email": address, "send_invitation": False},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "invited"
        assert len(outbox_messages(address)) == sent_before

    async def test_duplicate_email_is_409_and_changes_nothing(self, client, session, tenant):
        before = await db_state(session)
        r = await client.post(
            USERS, json={"email": tenant.learner.email.upper()}, headers=tenant.admin_headers
        )
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "email_taken"
        assert await db_state(session) == before

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param({"email": "not-an-email"}, id="invalid-email"),
            pytest.param({"email": "x@acme.example.com", "nickname": "x"}, id="unknown-field"),
            pytest.param(
                {"email": "x@acme.example.com", "company_id": str(uuid.uuid4())}, id="company_id"
            ),
            pytest.param({"email": "x@acme.example.com", "is_superuser": True}, id="is_superuser"),
            pytest.param({"email": "x@acme.example.com", "role": "platform_admin"}, id="platform"),
            pytest.param({"email": "x@acme.example.com", "role": "owner"}, id="unknown-role"),
            pytest.param({"email": "x@acme.example.com", "timezone": "Mars/Olympus"}, id="tz"),
            pytest.param({"email": "x@acme.example.com", "status": "active"}, id="status"),
        ],
    )
    async def test_bad_input_is_422_and_changes_nothing(self, client, session, tenant, body):
        before = await db_state(session)
        r = await client.post(USERS, json=body, headers=tenant.admin_headers)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "validation_error"
        assert await db_state(session) == before

    async def test_manager_from_another_company_is_400_and_changes_nothing(
        self, client, session, tenant, other_tenant
    ):
        before = await db_state(session)
        r = await client.post(
            USERS,
            json={"email": "x@acme.example.com", "manager_id": str(other_tenant.manager.id)},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "invalid_manager"
        assert await db_state(session) == before


class TestListUsers:
    @pytest.fixture
    async def people(self, session, tenant) -> dict[str, User]:
        """Users with distinct attributes next to the tenant's three, to filter on."""
        made = {
            "ana": await make_user(
                session,
                tenant.company,
                email="ana.lopez@acme.example.com",
                first_name="Ana",
                last_name="Lopez",
                department="Sales",
                location="Madrid",
            ),
            "bo": await make_user(
                session,
                tenant.company,
                role=Role.manager,
                email="bo.chen@acme.example.com",
                first_name="Bo",
                last_name="Chen",
                department="Sales",
                location="Berlin",
                status=UserStatus.disabled,
            ),
            "cy": await make_user(
                session,
                tenant.company,
                email="cy@acme.example.com",
                first_name="Cy",
                last_name="Lopez-Diaz",
                department="Finance",
                location="Madrid",
                status=UserStatus.invited,
                password=None,
            ),
        }
        await session.commit()
        return made

    async def list_emails(self, client, tenant, **params) -> set[str]:
        r = await client.get(USERS, params=params, headers=tenant.admin_headers)
        assert r.status_code == 200, r.text
        return {u["email"] for u in r.json()["items"]}

    async def test_lists_the_company_newest_first(self, client, tenant, people):
        r = await client.get(USERS, headers=tenant.admin_headers)
        assert r.status_code == 200
        ids = [u["id"] for u in r.json()["items"]]
        assert len(ids) == 6
        assert ids == sorted(ids, reverse=True)  # UUIDv7: id order is creation order
        assert r.json()["next_cursor"] is None

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"role": "manager"}, {"bo", "manager"}),
            ({"status": "disabled"}, {"bo"}),
            ({"status": "invited"}, {"cy"}),
            ({"department": "Sales"}, {"ana", "bo"}),
            ({"location": "Madrid"}, {"ana", "cy"}),
            ({"department": "Sales", "location": "Madrid"}, {"ana"}),
            ({"q": "LOPEZ"}, {"ana", "cy"}),
            ({"q": "bo.chen@"}, {"bo"}),
            ({"q": "nobody-matches"}, set()),
        ],
    )
    async def test_filters(self, client, tenant, people, params, expected):
        named = {**people, "manager": tenant.manager}
        assert await self.list_emails(client, tenant, **params) == {
            named[n].email for n in expected
        }

    @pytest.mark.parametrize("q", ["_", "%", "\\"])
    async def test_search_takes_wildcards_literally(self, client, tenant, people, q):
        # No address or name holds these characters: a search for them finds no one.
        assert await self.list_emails(client, tenant, q=q) == set()

    async def test_pages_cover_everyone_once(self, client, tenant, people):
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
            r = await client.get(USERS, params=params, headers=tenant.admin_headers)
            assert r.status_code == 200
            page = r.json()
            assert len(page["items"]) <= 4
            seen += [u["id"] for u in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 6
        assert seen == sorted(seen, reverse=True)

    async def test_never_shows_another_companys_users(self, client, tenant, other_tenant):
        listed = await self.list_emails(client, other_tenant)
        r = await client.get(USERS, headers=other_tenant.admin_headers)
        assert {u["company_id"] for u in r.json()["items"]} == {str(other_tenant.company.id)}
        assert listed.isdisjoint({tenant.admin.email, tenant.manager.email, tenant.learner.email})
        searched = await self.list_emails(client, other_tenant, q=tenant.learner.email)
        assert searched == set()


class TestGetUser:
    async def test_returns_the_user(self, client, tenant):
        r = await client.get(f"{USERS}/{tenant.learner.id}", headers=tenant.admin_headers)
        assert r.status_code == 200
        body = r.json()
        assert body["email"] == tenant.learner.email
        assert body["role"] == "learner"
        assert "password_hash" not in body
        assert "totp_secret_encrypted" not in body

    async def test_unknown_id_is_404(self, client, tenant):
        r = await client.get(f"{USERS}/{uuid.uuid4()}", headers=tenant.admin_headers)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "user_not_found"


class TestUpdateUser:
    async def test_changes_the_given_fields_only(self, client, session, tenant):
        r = await client.patch(
            f"{USERS}/{tenant.learner.id}",
            json={"department": "Legal", "manager_id": str(tenant.manager.id)},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 200, r.text
        assert r.json()["department"] == "Legal"
        user = await reload_user(session, tenant.learner.id)
        assert user.department == "Legal"
        assert user.manager_id == tenant.manager.id
        assert user.first_name == tenant.learner.first_name
        assert user.role is Role.learner

    async def test_role_change_is_audited_with_before_and_after(self, client, session, tenant):
        r = await client.patch(
            f"{USERS}/{tenant.learner.id}", json={"role": "manager"}, headers=tenant.admin_headers
        )
        assert r.status_code == 200, r.text
        assert r.json()["role"] == "manager"
        (entry,) = await audit_entries(session, "user.role_changed")
        assert entry.company_id == tenant.company.id
        assert entry.actor_user_id == tenant.admin.id
        assert entry.target_id == str(tenant.learner.id)
        assert entry.changes == {"role": ["learner", "manager"]}

    async def test_unchanged_role_records_nothing(self, client, session, tenant):
        r = await client.patch(
            f"{USERS}/{tenant.learner.id}", json={"role": "learner"}, headers=tenant.admin_headers
        )
        assert r.status_code == 200
        assert await audit_entries(session, "user.role_changed") == []

    async def test_disabling_ends_every_session_at_once(self, client, session, tenant):
        tokens = await signed_in(client, tenant.learner.email)
        r = await client.patch(
            f"{USERS}/{tenant.learner.id}",
            json={"status": "disabled"},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "disabled"
        me = await client.get(f"{USERS}/me", headers=headers_of(tokens))
        assert me.status_code == 401
        refreshed = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 401
        (entry,) = await audit_entries(session, "user.status_changed")
        assert entry.changes == {"status": ["active", "disabled"]}

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param({"timezone": "Mars/Olympus"}, id="unknown-timezone"),
            pytest.param({"email": "new@acme.example.com"}, id="email"),
            pytest.param({"company_id": str(uuid.uuid4())}, id="company_id"),
            pytest.param({"is_superuser": True}, id="is_superuser"),
            pytest.param({"role": "platform_admin"}, id="platform-admin"),
            pytest.param({"status": "deleted"}, id="unknown-status"),
            # Columns that cannot be empty: null is a mistake, not "clear it".
            pytest.param({"role": None}, id="null-role"),
            pytest.param({"status": None}, id="null-status"),
            pytest.param({"custom_attributes": None}, id="null-attributes"),
        ],
    )
    async def test_bad_input_is_422_and_changes_nothing(self, client, session, tenant, body):
        before = await db_state(session)
        r = await client.patch(
            f"{USERS}/{tenant.learner.id}", json=body, headers=tenant.admin_headers
        )
        assert r.status_code == 422, r.text
        assert await db_state(session) == before

    async def test_manager_from_another_company_is_400_and_changes_nothing(
        self, client, session, tenant, other_tenant
    ):
        before = await db_state(session)
        r = await client.patch(
            f"{USERS}/{tenant.learner.id}",
            json={"manager_id": str(other_tenant.admin.id)},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "invalid_manager"
        assert await db_state(session) == before

    async def test_own_manager_is_400(self, client, session, tenant):
        before = await db_state(session)
        r = await client.patch(
            f"{USERS}/{tenant.learner.id}",
            json={"manager_id": str(tenant.learner.id)},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "invalid_manager"
        assert await db_state(session) == before

    async def test_active_user_cannot_go_back_to_invited(self, client, session, tenant):
        before = await db_state(session)
        r = await client.patch(
            f"{USERS}/{tenant.learner.id}", json={"status": "invited"}, headers=tenant.admin_headers
        )
        assert r.status_code == 400
        assert await db_state(session) == before

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param({"role": "learner"}, id="demote"),
            pytest.param({"status": "disabled"}, id="disable"),
        ],
    )
    async def test_admin_cannot_lock_themselves_out(self, client, session, tenant, body):
        before = await db_state(session)
        r = await client.patch(
            f"{USERS}/{tenant.admin.id}", json=body, headers=tenant.admin_headers
        )
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "cannot_change_self"
        assert await db_state(session) == before


class TestDeleteUser:
    async def test_soft_deletes_and_ends_sessions(self, client, session, tenant):
        tokens = await signed_in(client, tenant.learner.email)
        r = await client.delete(f"{USERS}/{tenant.learner.id}", headers=tenant.admin_headers)
        assert r.status_code == 204
        gone = await client.get(f"{USERS}/{tenant.learner.id}", headers=tenant.admin_headers)
        assert gone.status_code == 404
        listed = await client.get(USERS, headers=tenant.admin_headers)
        assert str(tenant.learner.id) not in {u["id"] for u in listed.json()["items"]}
        row = await reload_user(session, tenant.learner.id)  # kept for the records
        assert row.deleted_at is not None
        assert (await client.get(f"{USERS}/me", headers=headers_of(tokens))).status_code == 401
        (entry,) = await audit_entries(session, "user.deleted")
        assert entry.target_id == str(tenant.learner.id)

    async def test_email_can_be_used_again(self, client, tenant):
        r = await client.delete(f"{USERS}/{tenant.learner.id}", headers=tenant.admin_headers)
        assert r.status_code == 204
        again = await client.post(
            USERS, json={"email": tenant.learner.email}, headers=tenant.admin_headers
        )
        assert again.status_code == 201, again.text
        assert again.json()["id"] != str(tenant.learner.id)

    async def test_deleting_twice_is_404(self, client, tenant):
        path = f"{USERS}/{tenant.learner.id}"
        assert (await client.delete(path, headers=tenant.admin_headers)).status_code == 204
        assert (await client.delete(path, headers=tenant.admin_headers)).status_code == 404

    async def test_admin_cannot_delete_themselves(self, client, session, tenant):
        before = await db_state(session)
        r = await client.delete(f"{USERS}/{tenant.admin.id}", headers=tenant.admin_headers)
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "cannot_change_self"
        assert await db_state(session) == before


class TestInviteUser:
    async def test_sends_a_new_invitation(self, client, session, tenant):
        invited = await make_user(
            session,
            tenant.company,
            email="later@acme.example.com",
            status=UserStatus.invited,
            password=None,
        )
        await session.commit()
        sent_before = len(outbox_messages(invited.email))
        r = await client.post(f"{USERS}/{invited.id}/invite", headers=tenant.admin_headers)
        assert r.status_code == 200, r.text
        assert len(outbox_messages(invited.email)) == sent_before + 1
        (entry,) = await audit_entries(session, "user.invited")
        assert entry.target_id == str(invited.id)

    async def test_active_user_is_not_invited(self, client, session, tenant):
        before = await db_state(session)
        sent_before = len(outbox_messages(tenant.learner.email))
        r = await client.post(f"{USERS}/{tenant.learner.id}/invite", headers=tenant.admin_headers)
        assert r.status_code == 400
        assert len(outbox_messages(tenant.learner.email)) == sent_before
        assert await db_state(session) == before


class TestOtherCompanysUser:
    @pytest.mark.parametrize(
        ("method", "suffix", "body"),
        [
            ("GET", "", None),
            ("PATCH", "", {"first_name": "Hijacked"}),
            ("DELETE", "", None),
            ("POST", "/invite", None),
        ],
    )
    async def test_is_404_and_untouched(
        self, client, session, tenant, other_tenant, method, suffix, body
    ):
        before = await db_state(session)
        r = await client.request(
            method,
            f"{USERS}/{tenant.learner.id}{suffix}",
            json=body,
            headers=other_tenant.admin_headers,
        )
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "user_not_found"
        assert await db_state(session) == before


class TestMe:
    async def test_get_returns_my_profile(self, client, tenant):
        r = await client.get(f"{USERS}/me", headers=tenant.learner_headers)
        assert r.status_code == 200
        assert r.json()["id"] == str(tenant.learner.id)
        assert r.json()["email"] == tenant.learner.email

    async def test_patch_changes_my_profile(self, client, session, tenant):
        r = await client.patch(
            f"{USERS}/me",
            json={"first_name": "Lee", "timezone": "America/New_York", "locale": "fr"},
            headers=tenant.learner_headers,
        )
        assert r.status_code == 200, r.text
        user = await reload_user(session, tenant.learner.id)
        assert (user.first_name, user.timezone, user.locale) == ("Lee", "America/New_York", "fr")

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param({"role": "admin"}, id="role"),
            pytest.param({"email": "me@elsewhere.example.com"}, id="email"),
            pytest.param({"status": "active"}, id="status"),
            pytest.param({"company_id": str(uuid.uuid4())}, id="company_id"),
            pytest.param({"timezone": "Mars/Olympus"}, id="unknown-timezone"),
        ],
    )
    async def test_bad_input_is_422_and_changes_nothing(self, client, session, tenant, body):
        before = await db_state(session)
        r = await client.patch(f"{USERS}/me", json=body, headers=tenant.learner_headers)
        assert r.status_code == 422
        assert await db_state(session) == before


class TestDeletingAManager:
    async def test_their_reports_lose_the_link(self, client, session, tenant):
        from tests.factories import make_user

        report = await make_user(session, tenant.company, manager_id=tenant.manager.id)
        await session.commit()
        r = await client.delete(f"/api/v1/users/{tenant.manager.id}", headers=tenant.admin_headers)
        assert r.status_code == 204
        got = await client.get(f"/api/v1/users/{report.id}", headers=tenant.admin_headers)
        assert got.json()["manager_id"] is None
