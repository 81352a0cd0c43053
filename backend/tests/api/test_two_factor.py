"""TOTP two-factor authentication: set-up, login with a code or a recovery code, replay
refusal, disabling, and the company policy that makes admins set it up.

Codes: set-up is confirmed with the current code (step N) and the next action uses the
code of step N+1 (`next_code`), which the server accepts as clock drift. That keeps every
test under two codes, so none has to wait 30 s for a fresh step.
"""

from __future__ import annotations

import base64
import time
import uuid

import pyotp
import pytest
from sqlalchemy import select

from models.audit_log import AuditLog
from models.auth import RecoveryCode
from models.company import Company
from models.user import User
from tests.factories import DEFAULT_PASSWORD
from tests.support.api import signed_in

SETUP = "/api/v1/users/me/2fa/setup"
ENABLE = "/api/v1/users/me/2fa/enable"
DISABLE = "/api/v1/users/me/2fa/disable"
RECOVERY = "/api/v1/users/me/2fa/recovery-codes"
VERIFY = "/api/v1/auth/2fa/verify"


def next_code(secret: str) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30)


def wrong_code(secret: str) -> str:
    """A well-formed code that is none of the codes accepted right now."""
    totp = pyotp.TOTP(secret)
    valid = {totp.at(time.time() + delta) for delta in (-30, 0, 30)}
    return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in valid)


def bearer_of(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def verify(client, challenge: str, code: str):
    return await client.post(VERIFY, json={"challenge": challenge, "code": code})


async def turn_on(client, headers: dict[str, str]) -> tuple[str, list[str]]:
    """Set up and enable 2FA; the secret and the recovery codes."""
    r = await client.post(SETUP, headers=headers)
    assert r.status_code == 200, r.text
    secret = r.json()["secret"]
    r = await client.post(ENABLE, json={"code": pyotp.TOTP(secret).now()}, headers=headers)
    assert r.status_code == 200, r.text
    return secret, r.json()["recovery_codes"]


async def actions(session) -> list[str]:
    return list((await session.scalars(select(AuditLog.action).order_by(AuditLog.id))).all())


async def stored_user(session, user_id: uuid.UUID) -> User:
    return await session.get(User, user_id, populate_existing=True)


class TestSetup:
    async def test_returns_secret_uri_and_qr_code(self, client, session, tenant):
        r = await client.post(SETUP, headers=tenant.learner_headers)
        assert r.status_code == 200, r.text
        body = r.json()
        secret = body["secret"]
        assert len(base64.b32decode(secret)) == 20  # 160 bits
        assert body["otpauth_uri"].startswith("otpauth://totp/")
        assert f"secret={secret}" in body["otpauth_uri"]
        assert body["qr_code"].startswith("data:image/png;base64,")
        png = base64.b64decode(body["qr_code"].split(",", 1)[1])
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        user = await stored_user(session, tenant.learner.id)
        assert user.totp_secret_encrypted is not None
        assert secret not in user.totp_secret_encrypted
        assert not user.has_2fa  # not on until a first code confirms it

    async def test_is_refused_while_2fa_is_on(self, client, tenant):
        await turn_on(client, tenant.learner_headers)
        r = await client.post(SETUP, headers=tenant.learner_headers)
        assert r.status_code == 409


class TestEnable:
    async def test_wrong_code_is_400_and_leaves_2fa_off(self, client, session, tenant):
        secret = (await client.post(SETUP, headers=tenant.learner_headers)).json()["secret"]
        r = await client.post(
            ENABLE, json={"code": wrong_code(secret)}, headers=tenant.learner_headers
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "invalid_2fa_code"
        assert not (await stored_user(session, tenant.learner.id)).has_2fa
        login_result = await signed_in(client, tenant.learner.email)
        assert "access_token" in login_result

    async def test_right_code_turns_it_on_with_ten_recovery_codes(self, client, session, tenant):
        secret, codes = await turn_on(client, tenant.learner_headers)
        assert len(codes) == len(set(codes)) == 10
        me = await client.get("/api/v1/users/me", headers=tenant.learner_headers)
        assert me.json()["has_2fa"] is True
        stored = list(
            (
                await session.scalars(
                    select(RecoveryCode.code_hash).where(RecoveryCode.user_id == tenant.learner.id)
                )
            ).all()
        )
        assert len(stored) == 10
        assert not set(codes) & set(stored)  # kept hashed only
        user = await stored_user(session, tenant.learner.id)
        assert user.totp_secret_encrypted is not None
        assert secret not in user.totp_secret_encrypted
        assert "auth.2fa.enabled" in await actions(session)

    async def test_enable_without_setup_is_409(self, client, tenant):
        r = await client.post(ENABLE, json={"code": "123456"}, headers=tenant.learner_headers)
        assert r.status_code == 409


class TestLoginWith2fa:
    async def test_password_alone_gives_a_challenge_not_tokens(self, client, tenant):
        await turn_on(client, tenant.learner_headers)
        body = await signed_in(client, tenant.learner.email)
        assert body["mfa_required"] is True
        assert body["challenge"]
        assert "access_token" not in body
        assert "refresh_token" not in body

    async def test_code_completes_the_login(self, client, session, tenant):
        secret, _ = await turn_on(client, tenant.learner_headers)
        challenge = (await signed_in(client, tenant.learner.email))["challenge"]
        r = await verify(client, challenge, next_code(secret))
        assert r.status_code == 200, r.text
        me = await client.get("/api/v1/users/me", headers=bearer_of(r.json()))
        assert me.status_code == 200
        entry = await session.scalar(
            select(AuditLog).where(AuditLog.action == "auth.login.succeeded")
        )
        assert entry.changes == {"method": "totp"}

    async def test_a_code_is_accepted_once(self, client, session, tenant):
        secret, _ = await turn_on(client, tenant.learner_headers)
        code = next_code(secret)
        first = (await signed_in(client, tenant.learner.email))["challenge"]
        assert (await verify(client, first, code)).status_code == 200
        second = (await signed_in(client, tenant.learner.email))["challenge"]
        r = await verify(client, second, code)
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "invalid_2fa_code"
        assert "auth.2fa.failed" in await actions(session)

    async def test_the_code_that_enabled_2fa_cannot_sign_in(self, client, tenant):
        r = await client.post(SETUP, headers=tenant.learner_headers)
        secret = r.json()["secret"]
        code = pyotp.TOTP(secret).now()
        enabled = await client.post(ENABLE, json={"code": code}, headers=tenant.learner_headers)
        assert enabled.status_code == 200
        challenge = (await signed_in(client, tenant.learner.email))["challenge"]
        assert (await verify(client, challenge, code)).status_code == 400

    async def test_wrong_code_is_refused_and_audited(self, client, session, tenant):
        secret, _ = await turn_on(client, tenant.learner_headers)
        challenge = (await signed_in(client, tenant.learner.email))["challenge"]
        r = await verify(client, challenge, wrong_code(secret))
        assert r.status_code == 400
        entry = await session.scalar(select(AuditLog).where(AuditLog.action == "auth.2fa.failed"))
        assert entry.company_id == tenant.company.id
        assert entry.target_id == str(tenant.learner.id)

    async def test_a_recovery_code_works_once(self, client, session, tenant):
        _, codes = await turn_on(client, tenant.learner_headers)
        first = (await signed_in(client, tenant.learner.email))["challenge"]
        r = await verify(client, first, codes[3].lower())  # typed carelessly
        assert r.status_code == 200, r.text
        second = (await signed_in(client, tenant.learner.email))["challenge"]
        assert (await verify(client, second, codes[3])).status_code == 400
        assert (await verify(client, second, codes[4])).status_code == 200
        methods = (
            await session.scalars(
                select(AuditLog.changes).where(AuditLog.action == "auth.login.succeeded")
            )
        ).all()
        assert list(methods) == [{"method": "recovery_code"}] * 2

    async def test_a_challenge_is_used_once(self, client, tenant):
        secret, codes = await turn_on(client, tenant.learner_headers)
        challenge = (await signed_in(client, tenant.learner.email))["challenge"]
        assert (await verify(client, challenge, next_code(secret))).status_code == 200
        r = await verify(client, challenge, codes[0])
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_challenge"

    async def test_a_challenge_dies_after_five_wrong_codes(self, client, tenant):
        secret, _ = await turn_on(client, tenant.learner_headers)
        challenge = (await signed_in(client, tenant.learner.email))["challenge"]
        for _ in range(5):
            assert (await verify(client, challenge, wrong_code(secret))).status_code == 400
        r = await verify(client, challenge, next_code(secret))
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_challenge"


class TestRecoveryCodes:
    async def test_new_codes_replace_the_old_ones(self, client, tenant):
        secret, old = await turn_on(client, tenant.learner_headers)
        r = await client.post(
            RECOVERY, json={"code": next_code(secret)}, headers=tenant.learner_headers
        )
        assert r.status_code == 200, r.text
        new = r.json()["recovery_codes"]
        assert len(new) == 10
        assert not set(new) & set(old)
        challenge = (await signed_in(client, tenant.learner.email))["challenge"]
        assert (await verify(client, challenge, old[0])).status_code == 400
        assert (await verify(client, challenge, new[0])).status_code == 200


class TestDisable:
    async def test_needs_the_password(self, client, session, tenant):
        secret, _ = await turn_on(client, tenant.learner_headers)
        r = await client.post(
            DISABLE,
            json={"password": "not-the-password", "code": next_code(secret)},
            headers=tenant.learner_headers,
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "wrong_password"
        assert (await stored_user(session, tenant.learner.id)).has_2fa
        assert "auth.2fa.disable_failed" in await actions(session)

    async def test_needs_a_code(self, client, session, tenant):
        secret, _ = await turn_on(client, tenant.learner_headers)
        r = await client.post(
            DISABLE,
            json={"password": DEFAULT_PASSWORD, "code": wrong_code(secret)},
            headers=tenant.learner_headers,
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "invalid_2fa_code"
        assert (await stored_user(session, tenant.learner.id)).has_2fa

    async def test_password_and_code_turn_it_off(self, client, session, tenant):
        secret, _ = await turn_on(client, tenant.learner_headers)
        r = await client.post(
            DISABLE,
            json={"password": DEFAULT_PASSWORD, "code": next_code(secret)},
            headers=tenant.learner_headers,
        )
        assert r.status_code == 204, r.text
        user = await stored_user(session, tenant.learner.id)
        assert not user.has_2fa
        assert user.totp_secret_encrypted is None
        left = await session.scalars(
            select(RecoveryCode).where(RecoveryCode.user_id == tenant.learner.id)
        )
        assert left.all() == []
        assert "access_token" in await signed_in(client, tenant.learner.email)
        assert "auth.2fa.disabled" in await actions(session)

    async def test_a_recovery_code_will_do(self, client, tenant):
        _, codes = await turn_on(client, tenant.learner_headers)
        r = await client.post(
            DISABLE,
            json={"password": DEFAULT_PASSWORD, "code": codes[0]},
            headers=tenant.learner_headers,
        )
        assert r.status_code == 204


class TestCompanyRequires2fa:
    @pytest.fixture
    async def strict(self, session, tenant):
        """The tenant, with 2FA required of its admins."""
        company = await session.get(Company, tenant.company.id)
        company.require_2fa_for_admins = True
        await session.commit()
        return tenant

    async def test_admin_without_2fa_may_only_set_it_up(self, client, strict):
        tokens = await signed_in(client, strict.admin.email)
        assert tokens["mfa_setup_required"] is True
        headers = bearer_of(tokens)
        r = await client.get("/api/v1/users", headers=headers)
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "mfa_setup_required"
        assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200
        assert (await client.post(SETUP, headers=headers)).status_code == 200

    async def test_refreshed_tokens_keep_the_restriction(self, client, strict):
        tokens = await signed_in(client, strict.admin.email)
        r = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert r.status_code == 200
        assert r.json()["mfa_setup_required"] is True
        assert (await client.get("/api/v1/users", headers=bearer_of(r.json()))).status_code == 403

    async def test_after_set_up_the_admin_signs_in_with_a_code(self, client, strict):
        pending = bearer_of(await signed_in(client, strict.admin.email))
        secret, _ = await turn_on(client, pending)
        challenge = (await signed_in(client, strict.admin.email))["challenge"]
        r = await verify(client, challenge, next_code(secret))
        assert r.status_code == 200, r.text
        assert r.json()["mfa_setup_required"] is False
        assert (await client.get("/api/v1/users", headers=bearer_of(r.json()))).status_code == 200

    async def test_learners_are_not_asked(self, client, strict):
        tokens = await signed_in(client, strict.learner.email)
        assert tokens["mfa_setup_required"] is False
        assert (await client.get("/api/v1/users/me", headers=bearer_of(tokens))).status_code == 200
