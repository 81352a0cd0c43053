"""The security log. Successful actions are recorded in the transaction that makes them (no
change, no entry); refusals are recorded in a transaction of their own, because the request
that was refused rolls back."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.context import request_id_var
from db.pagination import PageParams, PageResult, paginate
from db.scoping import AuthContext, RequestMeta, bind_tenant
from db.session import unit_of_work
from models.audit_log import AuditLog

Target = tuple[str, uuid.UUID | str] | None


def _entry(
    action: str,
    *,
    company_id: uuid.UUID | None,
    auth: AuthContext | None,
    actor_email: str | None,
    target: Target,
    meta: RequestMeta | None,
    changes: dict[str, Any] | None,
) -> AuditLog:
    return AuditLog(
        company_id=company_id if company_id is not None else (auth.company_id if auth else None),
        action=action,
        actor_user_id=auth.user_id if auth else None,
        actor_api_key_id=auth.api_key_id if auth else None,
        actor_email=actor_email or (auth.email if auth else None),
        target_type=target[0] if target else None,
        target_id=str(target[1]) if target else None,
        ip=meta.ip if meta else None,
        user_agent=(meta.user_agent or "")[:400] or None if meta else None,
        request_id=request_id_var.get(),
        changes=changes or {},
    )


async def record(
    session: AsyncSession,
    action: str,
    *,
    auth: AuthContext | None = None,
    company_id: uuid.UUID | None = None,
    actor_email: str | None = None,
    target: Target = None,
    meta: RequestMeta | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    """Record an action in the caller's transaction: it exists only if the action commits."""
    session.add(
        _entry(
            action,
            company_id=company_id,
            auth=auth,
            actor_email=actor_email,
            target=target,
            meta=meta,
            changes=changes,
        )
    )


async def record_refusal(
    action: str,
    *,
    auth: AuthContext | None = None,
    company_id: uuid.UUID | None = None,
    actor_email: str | None = None,
    target: Target = None,
    meta: RequestMeta | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    """Record a refused attempt in its own transaction, so it survives the request's rollback."""
    async with unit_of_work() as session:
        await bind_tenant(
            session, company_id if company_id else (auth.company_id if auth else None)
        )
        await record(
            session,
            action,
            auth=auth,
            company_id=company_id,
            actor_email=actor_email,
            target=target,
            meta=meta,
            changes=changes,
        )


async def list_entries(
    session: AsyncSession,
    auth: AuthContext,
    page: PageParams,
    *,
    action: str | None = None,
    actor_user_id: uuid.UUID | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> PageResult[AuditLog]:
    stmt: Select[Any] = select(AuditLog).where(AuditLog.company_id == auth.company_id)
    if action:
        # "auth.login" matches auth.login.succeeded and auth.login.failed.
        stmt = stmt.where(
            (AuditLog.action == action) | AuditLog.action.startswith(action + ".", autoescape=True)
        )
    if actor_user_id:
        stmt = stmt.where(AuditLog.actor_user_id == actor_user_id)
    if target_id:
        stmt = stmt.where(AuditLog.target_id == target_id)
    if since:
        stmt = stmt.where(AuditLog.occurred_at >= since)
    if until:
        stmt = stmt.where(AuditLog.occurred_at < until)
    return await paginate(session, stmt, page, order_by=(AuditLog.id,))
