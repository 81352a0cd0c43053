"""File storage for lesson media: a local folder by default, S3 or any S3-compatible store
when configured. One interface; keys are chosen by the server; downloads go through
short-lived signed links (HMAC for the local folder, presigned URLs for S3).

Uploads are checked for size and for their real type from their first bytes (filetype),
never from the name or the declared content type: a script renamed `.png` is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import anyio
import filetype

from core.config import Settings, settings
from core.crypto import derive_key
from core.exceptions import AppError, NotFound, PayloadTooLarge
from models.base import new_id

# What lessons may embed: images, PDFs, video. Type → extension used in the key.
ALLOWED_TYPES = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
    "video/mp4": "mp4",
    "video/webm": "webm",
}
CONTENT_TYPES = {ext: mime for mime, ext in ALLOWED_TYPES.items()}


class UnsupportedFileType(AppError):
    status_code = 415
    code = "unsupported_file_type"
    message = "Only PNG, JPEG, GIF and WebP images, PDF documents and MP4/WebM videos are accepted."


class FileNotFound(NotFound):
    code = "file_not_found"
    message = "No such file, or the link has expired."


@dataclass(frozen=True, slots=True)
class StoredFile:
    key: str
    content_type: str
    size: int


class Storage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...
    async def get(self, key: str) -> bytes: ...
    async def delete(self, key: str) -> None: ...
    async def download_url(self, key: str, *, expires_in: int) -> str: ...


def _safe_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise FileNotFound()
    return key


class LocalStorage:
    """Files in a folder; links are signed with a key derived from the server secret."""

    def __init__(self, root: Path, public_url: str) -> None:
        self.root = root
        self.public_url = public_url.rstrip("/")

    def _path(self, key: str) -> Path:
        return self.root / _safe_key(key)

    async def put(self, key: str, data: bytes, content_type: str) -> None:  # noqa: ARG002
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)  # a reader never sees half a file

        await anyio.to_thread.run_sync(write)

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await anyio.to_thread.run_sync(path.read_bytes)
        except FileNotFoundError as exc:
            raise FileNotFound() from exc

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(lambda: self._path(key).unlink(missing_ok=True))

    async def download_url(self, key: str, *, expires_in: int) -> str:
        expires = int(time.time()) + expires_in
        query = urlencode({"expires": expires, "sig": sign(key, expires)})
        return f"{self.public_url}/files/{quote(_safe_key(key))}?{query}"


def sign(key: str, expires: int) -> str:
    mac = hmac.new(derive_key("file-links"), f"{key}\n{expires}".encode(), hashlib.sha256)
    return mac.hexdigest()


def check_signature(key: str, expires: int, signature: str) -> None:
    if expires < time.time() or not hmac.compare_digest(sign(key, expires), signature):
        raise FileNotFound()


class S3Storage:
    """An S3 bucket (or S3-compatible store) through boto3, run in worker threads."""

    def __init__(self, cfg: Settings) -> None:
        import boto3

        if not cfg.s3_bucket:
            raise ValueError("VIGIL_S3_BUCKET must be set when VIGIL_STORAGE_BACKEND=s3")
        self.bucket = cfg.s3_bucket
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=cfg.s3_endpoint_url,
            region_name=cfg.s3_region,
            aws_access_key_id=cfg.s3_access_key_id,
            aws_secret_access_key=(
                cfg.s3_secret_access_key.get_secret_value() if cfg.s3_secret_access_key else None
            ),
        )

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await anyio.to_thread.run_sync(
            lambda: self.client.put_object(
                Bucket=self.bucket, Key=_safe_key(key), Body=data, ContentType=content_type
            )
        )

    async def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        def read() -> bytes:
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=_safe_key(key))["Body"]
                return bytes(body.read())
            except ClientError as exc:
                raise FileNotFound() from exc

        return await anyio.to_thread.run_sync(read)

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(
            lambda: self.client.delete_object(Bucket=self.bucket, Key=_safe_key(key))
        )

    async def download_url(self, key: str, *, expires_in: int) -> str:
        return str(
            await anyio.to_thread.run_sync(
                lambda: self.client.generate_presigned_url(
                    "get_object",
                    Params={"Bucket": self.bucket, "Key": _safe_key(key)},
                    ExpiresIn=expires_in,
                )
            )
        )


def build_storage(cfg: Settings = settings) -> Storage:
    if cfg.storage_backend == "s3":
        return S3Storage(cfg)
    return LocalStorage(cfg.storage_local_path, cfg.public_url)


_storage: Storage | None = None


def get_storage() -> Storage:
    """The configured storage, built on first use (S3 clients are not free to make)."""
    global _storage
    if _storage is None:
        _storage = build_storage()
    return _storage


def detect_type(data: bytes) -> str:
    kind = filetype.guess(data[:8192])
    if kind is None or kind.mime not in ALLOWED_TYPES:
        raise UnsupportedFileType(details={"detected": kind.mime if kind else None})
    return str(kind.mime)


async def store_upload(storage: Storage, company_id: uuid.UUID, data: bytes) -> StoredFile:
    """Check and keep an upload under a key of our choosing, inside the company's prefix."""
    if len(data) > settings.max_upload_bytes:
        raise PayloadTooLarge(f"Files may be at most {settings.max_upload_bytes} bytes.")
    if not data:
        raise UnsupportedFileType("The file is empty.")
    mime = detect_type(data)
    key = f"{company_id}/{new_id()}.{ALLOWED_TYPES[mime]}"
    await storage.put(key, data, mime)
    return StoredFile(key=key, content_type=mime, size=len(data))
