"""Factories for test data: each makes a valid row with overridable fields, flushed."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import hash_token, new_token
from core.security import create_access_token, hash_password
from models.api_key import ApiKey, ApiKeyScope
from models.company import Company
from models.user import Role, User, UserStatus

_seq = itertools.count(1)

DEFAULT_PASSWORD = "correct-horse-battery-staple"


async def make_company(session: AsyncSession, **fields: Any) -> Company:
    company = Company(name=fields.pop("name", f"Company {next(_seq)}"), **fields)
    session.add(company)
    await session.flush()
    return company


async def make_user(
    session: AsyncSession,
    company: Company | None = None,
    *,
    role: Role = Role.learner,
    password: str | None = DEFAULT_PASSWORD,
    status: UserStatus = UserStatus.active,
    **fields: Any,
) -> User:
    if company is None:
        company = await make_company(session)
    n = next(_seq)
    user = User(
        company_id=company.id,
        email=fields.pop("email", f"user{n}@example.example.com"),
        first_name=fields.pop("first_name", "Test"),
        last_name=fields.pop("last_name", f"User{n}"),
        role=role,
        status=status,
        password_hash=await hash_password(password) if password else None,
        **fields,
    )
    session.add(user)
    await session.flush()
    return user


async def make_platform_admin(session: AsyncSession, **fields: Any) -> User:
    """A platform admin, in the operator's own company (`is_platform`)."""
    company = await make_company(session, name="Vigil operator", is_platform=True)
    return await make_user(session, company, role=Role.platform_admin, **fields)


async def make_api_key(
    session: AsyncSession, company: Company, *, scope: ApiKeyScope = ApiKeyScope.read
) -> tuple[ApiKey, str]:
    """A key of `company` and the secret to call with (`Authorization: Bearer vk_...`)."""
    secret = "vk_" + new_token(32)
    key = ApiKey(
        company_id=company.id,
        name=f"Key {next(_seq)}",
        prefix=secret[:10],
        key_hash=hash_token(secret),
        scope=scope,
    )
    session.add(key)
    await session.flush()
    return key, secret


def bearer(user: User, session_id: uuid.UUID | None = None) -> dict[str, str]:
    """Headers of a signed-in user, without going through /auth/login."""
    token, _ = create_access_token(user.id, user.company_id, session_id or uuid.uuid4())
    return {"Authorization": f"Bearer {token}"}
