"""The operator's scripts: idempotent, and they leave a usable install."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models.company import Company
from models.group import Group
from models.user import Role, User
from scripts.create_admin import ensure_platform_admin
from scripts.seed_data import COMPANY, PASSWORD, seed


class TestCreateAdmin:
    async def test_creates_then_updates_the_same_account(self, client, session):
        user, created = await ensure_platform_admin(
            "Ops@Vigil.example.com", "operator-passphrase-1", "Op", None
        )
        assert created
        again, created_again = await ensure_platform_admin(
            "ops@vigil.example.com", None, None, "Erator"
        )
        assert not created_again
        assert again.id == user.id
        assert await session.scalar(select(func.count()).select_from(Company)) == 1
        company = await session.scalar(select(Company))
        assert company.is_platform
        r = await client.post(
            "/api/v1/auth/login",
            json={"email": "ops@vigil.example.com", "password": "operator-passphrase-1"},
        )
        assert r.status_code == 200
        assert r.json()["user"]["role"] == "platform_admin"

    async def test_refuses_a_weak_password(self):
        from core.security import WeakPassword

        with pytest.raises(WeakPassword):
            await ensure_platform_admin("ops@vigil.example.com", "password", None, None)


class TestSeedData:
    async def test_seeds_fifty_people_and_two_groups_once(self, client, session):
        logins = await seed()
        await seed()
        company = await session.scalar(select(Company).where(Company.name == COMPANY))
        count = await session.scalar(
            select(func.count()).select_from(User).where(User.company_id == company.id)
        )
        assert count == 50
        assert set((await session.scalars(select(Group.name))).all()) == {
            "Pilot",
            "Finance (France)",
        }
        roles = {
            u.role
            for u in (
                await session.scalars(select(User).where(User.company_id == company.id))
            ).all()
        }
        assert roles == {Role.admin, Role.manager, Role.learner}
        admin_email = logins[0][0]
        r = await client.post(
            "/api/v1/auth/login", json={"email": admin_email, "password": PASSWORD}
        )
        assert r.status_code == 200
        group = (
            await client.get(
                "/api/v1/groups", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
            )
        ).json()
        finance = next(g for g in group["items"] if g["name"] == "Finance (France)")
        detail = await client.get(
            f"/api/v1/groups/{finance['id']}",
            headers={"Authorization": f"Bearer {r.json()['access_token']}"},
        )
        assert detail.json()["member_count"] > 0
