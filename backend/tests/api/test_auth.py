"""Sign-up, login, token rotation and revocation, resets and invitations, end to end."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import func, select

from core.config import settings
from models.audit_log import AuditLog
from models.company import Company, CompanyStatus
from models.user import User, UserStatus
from tests.factories import DEFAULT_PASSWORD
from tests.support.api import login
from tests.support.mail import link_token, outbox_messages

STRONG = "a-long-and-unusual-passphrase"


async def audit_actions(session, company_id=None) -> list[str]:
    stmt = select(AuditLog.action).order_by(AuditLog.id)
    if company_id is not None:
        stmt = stmt.where(AuditLog.company_id == company_id)
    return list((await session.scalars(stmt)).all())


class TestRegister:
    async def test_creates_company_and_admin_and_signs_in(self, client, session):
        r = await client.post(
            "/api/v1/auth/register",
            json={
                "company_name": "Initech",
                "email": "Bill@Initech.example.com",
                "password": STRONG,
            },
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["user"]["email"] == "bill@initech.example.com"
        assert body["user"]["role"] == "admin"
        me = await client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert me.status_code == 200
        company = await session.get(Company, uuid.UUID(me.json()["company_id"]))
        assert company is not None
        assert company.email_domains == ["initech.example.com"]
        assert "company.registered" in await audit_actions(session, company.id)

    async def test_same_email_again_is_409_and_creates_nothing(self, client, session, tenant):
        r = await client.post(
            "/api/v1/auth/register",
            json={"company_name": "Dup", "email": tenant.admin.email.upper(), "password": STRONG},
        )
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "email_taken"
        assert await session.scalar(select(func.count()).select_from(Company)) == 1

    @pytest.mark.parametrize(
        ("password", "problem"),
        [
            ("short", "at least 12"),
            ("password123456", "too common"),
            ("x" * 129, "at most 128"),
            ("bill-is-my-secret-word", "email address"),
        ],
    )
    async def test_weak_passwords_are_refused_with_reasons(
        self, client, session, password, problem
    ):
        r = await client.post(
            "/api/v1/auth/register",
            json={"company_name": "W", "email": "bill@w.example.com", "password": password},
        )
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "weak_password"
        assert any(problem in p for p in r.json()["error"]["details"]["problems"])
        assert await session.scalar(select(func.count()).select_from(Company)) == 0

    @pytest.mark.parametrize("field", ["company_id", "role", "is_superuser"])
    async def test_mass_assignment_is_refused(self, client, field):
        r = await client.post(
            "/api/v1/auth/register",
            json={"company_name": "M", "email": "m@m.example.com", "password": STRONG, field: "x"},
        )
        assert r.status_code == 422


class TestLogin:
    async def test_success_returns_tokens_and_is_audited(self, client, session, tenant):
        r = await login(client, tenant.learner.email.upper())
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["token_type"] == "bearer"
        assert body["refresh_token"]
        assert body["access_token"]
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        assert tenant.learner.email not in str(claims)  # no personal data in the token
        assert "auth.login.succeeded" in await audit_actions(session, tenant.company.id)

    async def test_wrong_password_is_401_and_audited(self, client, session, tenant):
        r = await login(client, tenant.learner.email, "not-the-password!")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_credentials"
        assert "auth.login.failed" in await audit_actions(session, tenant.company.id)

    @pytest.mark.parametrize("known", [True, False])
    async def test_an_overlong_password_is_401_not_500(self, client, tenant, known):
        email = tenant.learner.email if known else "nobody@nowhere.example.com"
        r = await login(client, email, "é" * 100)  # 200 bytes: more than bcrypt takes
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_credentials"

    async def test_unknown_email_gives_the_same_answer(self, client, session):
        r = await login(client, "nobody@nowhere.example.com")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_credentials"
        assert await audit_actions(session) == ["auth.login.failed"]

    async def test_wrong_passwords_are_throttled_per_account(self, client, tenant):
        codes = [
            (await login(client, tenant.learner.email, f"wrong-{i}")).status_code for i in range(15)
        ]
        assert codes[:10] == [401] * 10
        assert set(codes[10:]) == {429}
        r = await login(client, tenant.learner.email, "wrong-x")
        assert int(r.headers["retry-after"]) > 0
        # Another account from the same client is not locked by it.
        assert (await login(client, tenant.admin.email)).status_code == 200

    async def test_thirty_wrong_passwords_from_one_address_are_throttled(self, client):
        codes = [
            (await login(client, f"someone{i}@acme.example.com", "wrong-password-x")).status_code
            for i in range(31)
        ]
        assert codes[:30] == [401] * 30
        assert codes[30] == 429

    async def test_disabled_user_cannot_log_in(self, client, session, tenant):
        user = await session.get(User, tenant.learner.id)
        user.status = UserStatus.disabled
        await session.commit()
        r = await login(client, tenant.learner.email)
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "account_unavailable"

    async def test_suspended_company_cannot_log_in(self, client, session, tenant):
        company = await session.get(Company, tenant.company.id)
        company.status = CompanyStatus.suspended
        await session.commit()
        assert (await login(client, tenant.admin.email)).status_code == 403
        me = await client.get("/api/v1/users/me", headers=tenant.admin_headers)
        assert me.status_code == 401

    async def test_password_hash_is_upgraded_when_the_cost_changes(
        self, client, session, tenant, monkeypatch
    ):
        from pwdlib import PasswordHash
        from pwdlib.hashers.bcrypt import BcryptHasher

        import core.security

        monkeypatch.setattr(
            core.security, "_password_hash", PasswordHash((BcryptHasher(rounds=5),))
        )
        assert (await login(client, tenant.learner.email)).status_code == 200
        await session.refresh(await session.get(User, tenant.learner.id))
        user = await session.get(User, tenant.learner.id)
        assert user.password_hash.startswith("$2b$05$")


class TestTokens:
    async def test_refresh_rotates(self, client, tenant):
        first = (await login(client, tenant.learner.email)).json()
        r = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
        )
        assert r.status_code == 200
        second = r.json()
        assert second["refresh_token"] != first["refresh_token"]
        me = await client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {second['access_token']}"}
        )
        assert me.status_code == 200

    async def test_reused_refresh_token_kills_the_family(self, client, session, tenant):
        first = (await login(client, tenant.learner.email)).json()
        second = (
            await client.post(
                "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
            )
        ).json()
        reuse = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
        )
        assert reuse.status_code == 401
        # The legitimate, newer token is dead too, and so is its access token.
        again = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
        )
        assert again.status_code == 401
        me = await client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {second['access_token']}"}
        )
        assert me.status_code == 401
        assert "auth.refresh.reused" in await audit_actions(session, tenant.company.id)

    async def test_refresh_token_is_not_an_access_token(self, client, tenant):
        tokens = (await login(client, tenant.learner.email)).json()
        r = await client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
        )
        assert r.status_code == 401

    async def test_access_token_is_not_a_refresh_token(self, client, tenant):
        tokens = (await login(client, tenant.learner.email)).json()
        r = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["access_token"]}
        )
        assert r.status_code == 401

    @pytest.mark.parametrize(
        "kind", ["wrong_key", "alg_none", "expired", "wrong_audience", "garbage"]
    )
    async def test_forged_or_stale_tokens_are_refused(self, client, tenant, kind):
        now = int(time.time())
        claims = {
            "iss": settings.jwt_issuer,
            "aud": settings.jwt_audience,
            "sub": str(tenant.admin.id),
            "cid": str(tenant.company.id),
            "sid": "6f1f1f1f-1f1f-4f1f-8f1f-1f1f1f1f1f1f",
            "typ": "access",
            "iat": now,
            "exp": now + 600,
        }
        key = settings.secret_key.get_secret_value()
        if kind == "wrong_key":
            token = jwt.encode(claims, "another-secret-of-sufficient-length!!", algorithm="HS256")
        elif kind == "alg_none":
            token = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
        elif kind == "expired":
            token = jwt.encode(
                {**claims, "iat": now - 7200, "exp": now - 3600}, key, algorithm="HS256"
            )
        elif kind == "wrong_audience":
            token = jwt.encode({**claims, "aud": "someone-else"}, key, algorithm="HS256")
        else:
            token = "not.a.jwt"
        r = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_token"

    async def test_a_verified_token_stays_valid_only_until_exp_and_with_its_key(
        self, monkeypatch, tenant
    ):
        from pydantic import SecretStr

        from core import security

        # Issued so that it expires at the next whole second (`exp` is in whole seconds).
        lifetime = timedelta(minutes=settings.access_token_minutes)
        now = datetime.now(UTC)
        issued = now - lifetime + timedelta(seconds=1)
        token, _ = security.create_access_token(
            tenant.admin.id, tenant.company.id, uuid.uuid4(), now=issued
        )
        claims = security.decode_access_token(token)  # verified in full, then remembered
        assert security.decode_access_token(token) is claims
        expires = float(jwt.decode(token, options={"verify_signature": False})["exp"])
        await asyncio.sleep(max(expires - time.time(), 0) + 0.05)
        with pytest.raises(security.InvalidToken):
            security.decode_access_token(token)

        token, _ = security.create_access_token(tenant.admin.id, tenant.company.id, uuid.uuid4())
        security.decode_access_token(token)
        monkeypatch.setattr(
            settings, "secret_key", SecretStr("a-rotated-secret-of-sufficient-length!!")
        )
        with pytest.raises(security.InvalidToken):
            security.decode_access_token(token)

    async def test_missing_token_is_401(self, client):
        r = await client.get("/api/v1/users/me")
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"

    async def test_logout_ends_this_session_only(self, client, tenant):
        a = (await login(client, tenant.learner.email)).json()
        b = (await login(client, tenant.learner.email)).json()
        ha = {"Authorization": f"Bearer {a['access_token']}"}
        hb = {"Authorization": f"Bearer {b['access_token']}"}
        assert (await client.post("/api/v1/auth/logout", headers=ha)).status_code == 204
        assert (await client.get("/api/v1/users/me", headers=ha)).status_code == 401
        assert (
            await client.post("/api/v1/auth/refresh", json={"refresh_token": a["refresh_token"]})
        ).status_code == 401
        assert (await client.get("/api/v1/users/me", headers=hb)).status_code == 200

    async def test_logout_all_ends_every_session(self, client, tenant):
        a = (await login(client, tenant.learner.email)).json()
        b = (await login(client, tenant.learner.email)).json()
        ha = {"Authorization": f"Bearer {a['access_token']}"}
        assert (await client.post("/api/v1/auth/logout-all", headers=ha)).status_code == 204
        for tokens in (a, b):
            h = {"Authorization": f"Bearer {tokens['access_token']}"}
            assert (await client.get("/api/v1/users/me", headers=h)).status_code == 401
            r = await client.post(
                "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
            )
            assert r.status_code == 401
        assert (await login(client, tenant.learner.email)).status_code == 200

    async def test_refresh_has_an_absolute_lifetime(self, client, session, tenant):
        from models.auth import RefreshToken

        tokens = (await login(client, tenant.learner.email)).json()
        for row in (await session.scalars(select(RefreshToken))).all():
            row.family_expires_at = datetime.now(UTC) - timedelta(seconds=1)
        await session.commit()
        r = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert r.status_code == 401

    async def test_disabling_a_user_ends_their_sessions_at_once(self, client, tenant):
        tokens = (await login(client, tenant.learner.email)).json()
        r = await client.patch(
            f"/api/v1/users/{tenant.learner.id}",
            json={"status": "disabled"},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 200
        h = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (await client.get("/api/v1/users/me", headers=h)).status_code == 401
        r = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert r.status_code == 401


class TestPasswordChange:
    async def test_needs_the_current_password(self, client, session, tenant):
        r = await client.post(
            "/api/v1/users/me/password",
            json={"current_password": "wrong-password-here", "new_password": STRONG},
            headers=tenant.learner_headers,
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "wrong_password"
        assert "auth.password.change_failed" in await audit_actions(session, tenant.company.id)

    async def test_ends_other_sessions_and_keeps_this_one(self, client, tenant):
        other = (await login(client, tenant.learner.email)).json()
        mine = (await login(client, tenant.learner.email)).json()
        r = await client.post(
            "/api/v1/users/me/password",
            json={"current_password": DEFAULT_PASSWORD, "new_password": STRONG},
            headers={"Authorization": f"Bearer {mine['access_token']}"},
        )
        assert r.status_code == 200, r.text
        fresh = {"Authorization": f"Bearer {r.json()['access_token']}"}
        assert (await client.get("/api/v1/users/me", headers=fresh)).status_code == 200
        stale = {"Authorization": f"Bearer {other['access_token']}"}
        assert (await client.get("/api/v1/users/me", headers=stale)).status_code == 401
        assert (await login(client, tenant.learner.email, STRONG)).status_code == 200
        assert (await login(client, tenant.learner.email)).status_code == 401


class TestPasswordReset:
    async def test_same_answer_for_known_and_unknown_email(self, client, tenant):
        known = await client.post(
            "/api/v1/auth/password-reset/request", json={"email": tenant.learner.email}
        )
        unknown = await client.post(
            "/api/v1/auth/password-reset/request", json={"email": "ghost@x.example.com"}
        )
        assert known.status_code == unknown.status_code == 202
        assert known.json() == unknown.json()
        assert outbox_messages(tenant.learner.email)
        assert not outbox_messages("ghost@x.example.com")

    async def test_emailed_token_resets_once(self, client, session, tenant):
        await client.post(
            "/api/v1/auth/password-reset/request", json={"email": tenant.learner.email}
        )
        token = link_token(outbox_messages(tenant.learner.email)[-1])
        r = await client.post(
            "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": STRONG}
        )
        assert r.status_code == 204
        assert (await login(client, tenant.learner.email, STRONG)).status_code == 200
        again = await client.post(
            "/api/v1/auth/password-reset/confirm",
            json={"token": token, "new_password": STRONG + "2"},
        )
        assert again.status_code == 400
        assert again.json()["error"]["code"] == "invalid_token"
        assert "auth.password.reset" in await audit_actions(session, tenant.company.id)

    async def test_expired_token_is_refused(self, client, session, tenant):
        from models.auth import UserToken

        await client.post(
            "/api/v1/auth/password-reset/request", json={"email": tenant.learner.email}
        )
        token = link_token(outbox_messages(tenant.learner.email)[-1])
        for row in (await session.scalars(select(UserToken))).all():
            row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        await session.commit()
        r = await client.post(
            "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": STRONG}
        )
        assert r.status_code == 400

    async def test_forged_token_is_refused(self, client):
        r = await client.post(
            "/api/v1/auth/password-reset/confirm", json={"token": "x" * 43, "new_password": STRONG}
        )
        assert r.status_code == 400


class TestInvitations:
    async def test_invited_user_sets_a_password_and_becomes_active(self, client, session, tenant):
        r = await client.post(
            "/api/v1/users",
            json={"email": "new.hire@acme.example.com", "first_name": "New"},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "invited"
        token = link_token(outbox_messages("new.hire@acme.example.com")[-1])
        assert len(token) >= 22  # at least 128 random bits
        r = await client.post(
            "/api/v1/auth/invitations/accept", json={"token": token, "password": STRONG}
        )
        assert r.status_code == 200, r.text
        assert r.json()["user"]["status"] == "active"
        again = await client.post(
            "/api/v1/auth/invitations/accept", json={"token": token, "password": STRONG}
        )
        assert again.status_code == 400
        actions = await audit_actions(session, tenant.company.id)
        assert {"user.created", "user.invited", "user.invitation_accepted"} <= set(actions)

    async def test_reinviting_voids_the_earlier_link(self, client, tenant):
        r = await client.post(
            "/api/v1/users", json={"email": "late@acme.example.com"}, headers=tenant.admin_headers
        )
        user_id = r.json()["id"]
        first = link_token(outbox_messages("late@acme.example.com")[-1])
        assert (
            await client.post(f"/api/v1/users/{user_id}/invite", headers=tenant.admin_headers)
        ).status_code == 200
        second = link_token(outbox_messages("late@acme.example.com")[-1])
        assert first != second
        r = await client.post(
            "/api/v1/auth/invitations/accept", json={"token": first, "password": STRONG}
        )
        assert r.status_code == 400
        r = await client.post(
            "/api/v1/auth/invitations/accept", json={"token": second, "password": STRONG}
        )
        assert r.status_code == 200
