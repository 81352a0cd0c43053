"""File storage against the local folder and a real S3-compatible server (moto) on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from core.config import Settings
from services.storage import (
    FileNotFound,
    LocalStorage,
    S3Storage,
    UnsupportedFileType,
    check_signature,
    store_upload,
)
from tests.conftest import TEST_TMP

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5d4f3"
    "8f0000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_server) -> S3Storage:
    cfg = Settings(
        storage_backend="s3",
        s3_bucket=f"vigil-{uuid.uuid4().hex[:8]}",
        s3_endpoint_url=s3_server,
        s3_access_key_id="testing",
        s3_secret_access_key="testing",
    )
    storage = S3Storage(cfg)
    storage.client.create_bucket(Bucket=cfg.s3_bucket)
    return storage


@pytest.fixture
def local() -> LocalStorage:
    return LocalStorage(TEST_TMP / f"storage-{uuid.uuid4().hex[:8]}", "http://testserver")


@pytest.fixture(params=["local", "s3"])
def storage(request, local, s3):
    return local if request.param == "local" else s3


class TestBackends:
    async def test_put_get_delete(self, storage):
        await storage.put("c1/a.png", PNG, "image/png")
        assert await storage.get("c1/a.png") == PNG
        await storage.delete("c1/a.png")
        with pytest.raises(FileNotFound):
            await storage.get("c1/a.png")

    async def test_store_upload_chooses_the_key_from_the_content(self, storage):
        company = uuid.uuid4()
        stored = await store_upload(storage, company, PDF)
        assert stored.content_type == "application/pdf"
        assert stored.key.startswith(f"{company}/")
        assert stored.key.endswith(".pdf")
        assert await storage.get(stored.key) == PDF

    @pytest.mark.parametrize(
        "data",
        [b"<script>alert(1)</script>", b"#!/bin/sh\nrm -rf /\n", b"MZ\x90\x00" + b"\x00" * 60, b""],
    )
    async def test_wrong_real_types_are_refused(self, storage, data):
        with pytest.raises(UnsupportedFileType):
            await store_upload(storage, uuid.uuid4(), data)

    async def test_path_tricks_are_refused(self, local):
        for key in ("../etc/passwd", "/abs", "a//b", "a/./b"):
            with pytest.raises(FileNotFound):
                await local.put(key, PNG, "image/png")


class TestLinks:
    async def test_s3_presigned_link_downloads_the_file(self, s3):
        await s3.put("c1/p.png", PNG, "image/png")
        url = await s3.download_url("c1/p.png", expires_in=60)
        async with httpx.AsyncClient() as client:
            r = await client.get(url)
        assert r.status_code == 200
        assert r.content == PNG

    async def test_local_signature_checks(self, local):
        url = await local.download_url("c1/p.png", expires_in=60)
        params = dict(httpx.URL(url).params)
        check_signature("c1/p.png", int(params["expires"]), params["sig"])
        with pytest.raises(FileNotFound):
            check_signature("c1/other.png", int(params["expires"]), params["sig"])
        with pytest.raises(FileNotFound):
            check_signature("c1/p.png", int(params["expires"]) + 1, params["sig"])
        with pytest.raises(FileNotFound):
            check_signature("c1/p.png", 1, params["sig"])  # long expired
