"""Company API keys: `vk_` + 256 random bits, shown once, stored as an HMAC hash."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import hash_token, new_token
from core.exceptions import NotFound
from db.pagination import PageParams, PageResult, paginate
from db.scoping import (
    AuthContext,
    RequestMeta,
    auth_lookup,
    bind_tenant,
    get_scoped,
    scoped_select,
)
from models.api_key import ApiKey, ApiKeyScope
from models.company import Company
from models.user import Role
from services import audit
from services.auth import now_utc

KEY_PREFIX = "vk_"
# last_used_at is a hint, not an audit trail: write it at most this often per key.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    message = "No such API key."


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: ApiKey
    secret: str


async def authenticate(session: AsyncSession, secret: str) -> AuthContext | None:
    async with auth_lookup(session):
        key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_token(secret)))
    if key is None or key.revoked_at is not None:
        return None
    await bind_tenant(session, key.company_id)
    company = await session.get(Company, key.company_id)
    if company is None or not company.is_active:
        return None
    now = now_utc()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        key.last_used_at = now
    return AuthContext(
        company_id=key.company_id,
        role=Role.admin,
        api_key_id=key.id,
        api_key_scope=key.scope,
    )


async def create_key(
    session: AsyncSession, auth: AuthContext, *, name: str, scope: ApiKeyScope, meta: RequestMeta
) -> CreatedKey:
    secret = KEY_PREFIX + new_token(32)
    key = ApiKey(
        company_id=auth.company_id,
        name=name,
        prefix=secret[:10],
        key_hash=hash_token(secret),
        scope=scope,
        created_by_id=auth.user_id,
    )
    session.add(key)
    await session.flush()
    await audit.record(
        session,
        "api_key.created",
        auth=auth,
        target=("api_key", key.id),
        meta=meta,
        changes={"name": name, "scope": scope},
    )
    return CreatedKey(key, secret)


async def list_keys(
    session: AsyncSession, auth: AuthContext, page: PageParams
) -> PageResult[ApiKey]:
    return await paginate(session, scoped_select(ApiKey, auth), page, order_by=(ApiKey.id,))


async def revoke_key(
    session: AsyncSession, auth: AuthContext, key_id: uuid.UUID, *, meta: RequestMeta
) -> None:
    key = await get_scoped(session, ApiKey, key_id, auth, error=ApiKeyNotFound)
    if key.revoked_at is None:
        key.revoked_at = now_utc()
        await audit.record(
            session, "api_key.revoked", auth=auth, target=("api_key", key.id), meta=meta
        )
