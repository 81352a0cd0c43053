"""Who a token belongs to, kept in the cache for a few seconds.

Every authenticated request needs the caller's role and whether they (and their company)
may still act. Reading that from the database costs a round trip and an ORM load on every
request — more than the rest of a simple read. It is cached (Redis when configured, so all
replicas share it) for `PRINCIPAL_TTL` seconds and forgotten right after any transaction
that changes it commits: role or status changes, deletion, logout-all and password changes
(`sessions_valid_after`), company suspension. Without Redis and with several API processes,
another process may act on the old value for at most the TTL.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.cache import cache
from db.session import after_commit
from models.company import Company
from models.user import Role, User, UserStatus

PRINCIPAL_TTL = 30.0


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: uuid.UUID
    company_id: uuid.UUID
    role: Role
    email: str
    sessions_valid_after: datetime | None


def _key(user_id: uuid.UUID) -> str:
    return f"principal:{user_id}"


def _dump(p: Principal) -> bytes:
    after = p.sessions_valid_after.timestamp() if p.sessions_valid_after else None
    return orjson.dumps([str(p.company_id), p.role.value, p.email, after])


def _load(user_id: uuid.UUID, raw: bytes) -> Principal:
    company_id, role, email, after = orjson.loads(raw)
    return Principal(
        user_id=user_id,
        company_id=uuid.UUID(company_id),
        role=Role(role),
        email=email,
        sessions_valid_after=datetime.fromtimestamp(after, UTC) if after is not None else None,
    )


async def active_principal(
    session: AsyncSession, user_id: uuid.UUID, company_id: uuid.UUID
) -> Principal | None:
    """The user behind a token if they and their company may act now; None otherwise.
    Only active principals are cached: a refusal always reads the database again."""
    raw = await cache.get(_key(user_id))
    if raw is not None:
        cached = _load(user_id, raw)
        return cached if cached.company_id == company_id else None
    row = (
        await session.execute(
            select(
                User.role,
                User.email,
                User.status,
                User.sessions_valid_after,
                Company.status,
                Company.deleted_at,
            )
            .join(Company, Company.id == User.company_id)
            .where(User.id == user_id, User.company_id == company_id)
        )
    ).first()
    if row is None:
        return None
    role, email, status, valid_after, company_status, company_deleted = row
    if status is not UserStatus.active or company_status.value != "active" or company_deleted:
        return None
    principal = Principal(user_id, company_id, role, email, valid_after)
    await cache.set(_key(user_id), _dump(principal), ttl=PRINCIPAL_TTL)
    return principal


def forget(session: AsyncSession, *user_ids: uuid.UUID) -> None:
    """Drop cached principals once this transaction commits (never for a change that
    rolled back)."""

    async def drop() -> None:
        for user_id in user_ids:
            await cache.delete(_key(user_id))

    after_commit(session, drop)


async def forget_company(session: AsyncSession, company_id: uuid.UUID) -> None:
    ids = (await session.scalars(select(User.id).where(User.company_id == company_id))).all()
    forget(session, *ids)
