"""The security log (read-only: no route changes or deletes an entry)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from api.dependencies.auth import require
from api.dependencies.common import PageDep, SessionDep, UnitOfWorkRoute
from api.prefix import API_PREFIX
from core.permissions import Permission
from db.scoping import AuthContext
from schemas.audit_log import AuditLogRead
from schemas.base import Page
from services import audit

router = APIRouter(
    route_class=UnitOfWorkRoute, prefix=f"{API_PREFIX}/audit-logs", tags=["audit log"]
)

ReadAudit = Annotated[AuthContext, Depends(require(Permission.audit_read))]


@router.get("")
async def list_audit_logs(
    auth: ReadAudit,
    session: SessionDep,
    page: PageDep,
    action: Annotated[str | None, Query(max_length=64, description="e.g. auth.login")] = None,
    actor_user_id: uuid.UUID | None = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    # Aware only: a time without an offset is ambiguous, and the database refuses naive ones.
    since: Annotated[AwareDatetime | None, Query(description="e.g. 2025-01-31T00:00:00Z")] = None,
    until: Annotated[AwareDatetime | None, Query(description="exclusive")] = None,
) -> Page[AuditLogRead]:
    """Security-relevant actions in my company, newest first."""
    result = await audit.list_entries(
        session,
        auth,
        page,
        action=action,
        actor_user_id=actor_user_id,
        target_id=target_id,
        since=since,
        until=until,
    )
    return Page[AuditLogRead](
        items=[AuditLogRead.model_validate(e) for e in result.items], next_cursor=result.next_cursor
    )
