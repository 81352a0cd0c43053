"""Uploading lesson media, and the signed download links of the local storage backend."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile

from api.dependencies.auth import require
from api.dependencies.common import UnitOfWorkRoute
from api.prefix import API_PREFIX
from core.config import settings
from core.permissions import Permission
from db.scoping import AuthContext
from schemas.base import ErrorResponse
from schemas.file import FileRead
from services.storage import CONTENT_TYPES, FileNotFound, check_signature, get_storage, store_upload

router = APIRouter(route_class=UnitOfWorkRoute, prefix=f"{API_PREFIX}/files", tags=["files"])
downloads = APIRouter(route_class=UnitOfWorkRoute, tags=["files"])

ManageContent = Annotated[AuthContext, Depends(require(Permission.content_manage))]


@router.post(
    "",
    status_code=201,
    responses={413: {"model": ErrorResponse}, 415: {"model": ErrorResponse}},
)
async def upload_file(
    auth: ManageContent,
    file: Annotated[UploadFile, File(description="PNG, JPEG, GIF, WebP, PDF, MP4 or WebM")],
) -> FileRead:
    """Upload a file for lessons; its real type is checked from its content."""
    storage = get_storage()
    stored = await store_upload(storage, auth.company_id, await file.read())
    url = await storage.download_url(stored.key, expires_in=settings.download_url_seconds)
    return FileRead(key=stored.key, content_type=stored.content_type, size=stored.size, url=url)


@downloads.get("/files/{key:path}", include_in_schema=False)
async def download_file(
    key: str,
    expires: Annotated[int, Query()],
    sig: Annotated[str, Query(max_length=128)],
) -> Response:
    """A file of the local backend, for whoever holds an unexpired signed link."""
    if settings.storage_backend != "local":
        raise FileNotFound()
    check_signature(key, expires, sig)
    data = await get_storage().get(key)
    extension = key.rsplit(".", 1)[-1]
    return Response(
        data,
        media_type=CONTENT_TYPES.get(extension, "application/octet-stream"),
        headers={
            "Cache-Control": "private, max-age=300",
            "Content-Disposition": "inline",
            # Even if a file were not what it claims, it cannot run anything on our origin.
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
