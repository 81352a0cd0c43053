"""Uploading lesson media and downloading it through a signed link (local backend)."""

from __future__ import annotations

import httpx

from tests.services.test_storage import PDF, PNG

URL = "/api/v1/files"


class TestUpload:
    async def test_upload_then_download_by_link(self, client, tenant):
        r = await client.post(
            URL, files={"file": ("x.png", PNG, "image/png")}, headers=tenant.admin_headers
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["key"].startswith(f"{tenant.company.id}/")
        assert (body["content_type"], body["size"]) == ("image/png", len(PNG))
        link = httpx.URL(body["url"])
        got = await client.get(link.raw_path.decode())
        assert got.status_code == 200
        assert got.content == PNG
        assert got.headers["content-type"] == "image/png"
        assert "sandbox" in got.headers["content-security-policy"]

    async def test_the_name_does_not_decide_the_type(self, client, tenant):
        r = await client.post(
            URL,
            files={"file": ("cute.png", b"<script>alert(1)</script>", "image/png")},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 415
        assert r.json()["error"]["code"] == "unsupported_file_type"
        r = await client.post(
            URL, files={"file": ("doc.txt", PDF, "text/plain")}, headers=tenant.admin_headers
        )
        assert r.json()["content_type"] == "application/pdf"

    async def test_oversize_is_413(self, client, tenant, monkeypatch):
        from core.config import settings

        monkeypatch.setattr(settings, "max_upload_bytes", 2048)
        r = await client.post(
            URL,
            files={"file": ("big.pdf", PDF + b"0" * 4096, "application/pdf")},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 413

    async def test_a_tampered_or_expired_link_is_404(self, client, tenant):
        body = (
            await client.post(
                URL, files={"file": ("x.png", PNG, "image/png")}, headers=tenant.admin_headers
            )
        ).json()
        link = httpx.URL(body["url"])
        tampered = link.copy_set_param("sig", "0" * 64)
        assert (await client.get(tampered.raw_path.decode())).status_code == 404
        expired = link.copy_set_param("expires", "1")
        assert (await client.get(expired.raw_path.decode())).status_code == 404

    async def test_learner_cannot_upload(self, client, tenant):
        r = await client.post(
            URL, files={"file": ("x.png", PNG, "image/png")}, headers=tenant.learner_headers
        )
        assert r.status_code == 403
