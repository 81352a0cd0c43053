"""CSV import of users (`POST /users/import`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, UploadFile

from api.dependencies.auth import MetaDep, require
from api.dependencies.common import SessionDep, UnitOfWorkRoute
from api.prefix import API_PREFIX
from core.permissions import Permission
from db.scoping import AuthContext
from schemas.base import ErrorResponse
from schemas.user_import import ImportResult, ImportRow
from services import user_import

router = APIRouter(route_class=UnitOfWorkRoute, prefix=f"{API_PREFIX}/users", tags=["users"])

WriteUsers = Annotated[AuthContext, Depends(require(Permission.users_write))]


@router.post(
    "/import",
    responses={
        400: {"model": ErrorResponse, "description": "Not a readable CSV"},
        413: {"model": ErrorResponse, "description": "File too large"},
        422: {"model": ErrorResponse, "description": "Rows rejected; nothing imported"},
    },
)
async def import_users(
    auth: WriteUsers,
    session: SessionDep,
    meta: MetaDep,
    file: Annotated[UploadFile, File(description="CSV, UTF-8, with a header row")],
    dry_run: Annotated[bool, Query(description="Report what would happen; write nothing")] = False,
) -> ImportResult:
    """Create or update users from a CSV (by email); all rows or none."""
    data = await file.read()
    report = await user_import.import_users(
        session, auth, data, dry_run=dry_run, filename=file.filename, meta=meta
    )
    return ImportResult(
        dry_run=report.dry_run,
        created=report.count("create"),
        updated=report.count("update"),
        unchanged=report.count("unchanged"),
        rejected=report.count("reject"),
        rows=[ImportRow.model_validate(r, from_attributes=True) for r in report.rows],
    )
