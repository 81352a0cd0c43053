"""Phishing templates: sandboxed, refused at save when they cannot render, .eml import."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models.email_template import EmailTemplate
from services.phishing_catalog import CATALOG
from services.phishing_render import SAMPLE, render, validate

URL = "/api/v1/phishing/templates"
GOOD = {
    "name": "Payroll",
    "subject": "Payslip for {{ first_name }}",
    "html": '<p>Hi {{ first_name }}, <a href="{{ url }}">view</a></p>{{ tracking_pixel }}',
    "text": "Hi {{ first_name }}, view: {{ url }}",
    "difficulty": 2,
    "red_flags": ["Unexpected payslip link"],
}

EML = b"""From: "Shipping" <noreply@ship.example.com>
To: someone@example.com
Subject: Your order {{ 42 }} has shipped
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

Track it at https://ship.example.com/track?id=1 today.

--b1
Content-Type: text/html; charset=utf-8

<p>Track it <a href="https://ship.example.com/track?id=1">here</a> or <a href='https://x.example.com'>there</a>.</p>

--b1--
"""


async def count(session) -> int:
    return await session.scalar(select(func.count()).select_from(EmailTemplate)) or 0


class TestValidation:
    async def test_a_good_template_is_saved(self, client, tenant):
        r = await client.post(URL, json=GOOD, headers=tenant.admin_headers)
        assert r.status_code == 201, r.text
        preview = await client.post(f"{URL}/{r.json()['id']}/preview", headers=tenant.admin_headers)
        assert preview.json()["subject"] == "Payslip for Alex"
        assert SAMPLE["url"] in preview.json()["html"]

    @pytest.mark.parametrize(
        ("change", "fragment"),
        [
            ({"subject": "Hi {{ first_name "}, "syntax error on line 1"),
            ({"text": "Hi {{ salary }}"}, "'salary' is undefined"),
            ({"html": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}, "not allowed"),
            ({"html": "{{ url.__class__ }}"}, "not allowed"),
            ({"subject": "Hi{{ '\\n' }}Bcc: x@example.com"}, "one line"),
            ({"html": None, "text": None}, "needs an HTML or a text body"),
        ],
    )
    async def test_bad_templates_are_refused_with_the_reason(
        self, client, session, tenant, change, fragment
    ):
        r = await client.post(URL, json={**GOOD, **change}, headers=tenant.admin_headers)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "template_invalid"
        assert fragment in r.json()["error"]["message"]
        assert await count(session) == 0

    async def test_an_update_that_breaks_rendering_changes_nothing(self, client, tenant):
        tid = (await client.post(URL, json=GOOD, headers=tenant.admin_headers)).json()["id"]
        r = await client.patch(
            f"{URL}/{tid}", json={"text": "{% for %}"}, headers=tenant.admin_headers
        )
        assert r.status_code == 422
        got = await client.get(f"{URL}/{tid}", headers=tenant.admin_headers)
        assert got.json()["text"] == GOOD["text"]

    def test_recipient_values_are_escaped_in_html_only(self):
        values = {**SAMPLE, "first_name": "<script>alert(1)</script>"}
        out = render("Hi {{ first_name }}", "<p>{{ first_name }}</p>", "{{ first_name }}", values)
        assert "<script>" not in (out.html or "")
        assert "&lt;script&gt;" in (out.html or "")
        assert out.text == "<script>alert(1)</script>"


class TestCatalog:
    @pytest.mark.parametrize("template", CATALOG, ids=lambda t: t.slug)
    def test_every_platform_template_renders(self, template):
        rendered = validate(template.subject, template.html, template.text)
        assert SAMPLE["url"] in (rendered.html or "")
        assert SAMPLE["url"] in (rendered.text or "")
        assert template.red_flags

    def test_ten_lures_of_every_difficulty(self):
        assert len(CATALOG) >= 10
        assert {t.difficulty for t in CATALOG} == {1, 2, 3, 4, 5}

    async def test_list_and_copy(self, client, tenant):
        r = await client.get(f"{URL}/platform", headers=tenant.admin_headers)
        assert {t["slug"] for t in r.json()} >= {"parcel-delivery", "mfa-reset", "overdue-invoice"}
        copy = await client.post(f"{URL}/platform/mfa-reset/copy", headers=tenant.admin_headers)
        assert copy.status_code == 201
        assert copy.json()["difficulty"] == 4
        listed = await client.get(URL, headers=tenant.admin_headers)
        assert [t["id"] for t in listed.json()["items"]] == [copy.json()["id"]]
        missing = await client.post(f"{URL}/platform/nope/copy", headers=tenant.admin_headers)
        assert missing.status_code == 404


class TestImport:
    async def test_eml_becomes_a_template_with_tracked_links(self, client, tenant):
        r = await client.post(
            f"{URL}/import",
            files={"file": ("m.eml", EML, "message/rfc822")},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert 'href="{{ url }}"' in body["html"]
        assert "href='{{ url }}'" in body["html"]
        assert "ship.example.com" not in body["html"]
        assert "Track it at {{ url }} today." in body["text"]
        preview = await client.post(f"{URL}/{body['id']}/preview", headers=tenant.admin_headers)
        # The literal "{{ 42 }}" of the original subject shows as written, not evaluated.
        assert preview.json()["subject"] == "Your order {{ 42 }} has shipped"

    async def test_links_kept_when_asked(self, client, tenant):
        r = await client.post(
            f"{URL}/import",
            data={"rewrite_links": "false", "name": "Shipping"},
            files={"file": ("m.eml", EML, "message/rfc822")},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 201
        assert r.json()["name"] == "Shipping"
        assert "https://ship.example.com/track?id=1" in r.json()["html"]

    async def test_not_an_email_is_400(self, client, session, tenant):
        r = await client.post(
            f"{URL}/import",
            files={"file": ("x.eml", b"\x00\x01 nothing here", "message/rfc822")},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "invalid_eml"
        assert await count(session) == 0


class TestAccess:
    async def test_other_company_gets_404_everywhere(self, client, tenant, other_tenant):
        tid = (await client.post(URL, json=GOOD, headers=tenant.admin_headers)).json()["id"]
        h = other_tenant.admin_headers
        assert (await client.get(f"{URL}/{tid}", headers=h)).status_code == 404
        assert (
            await client.patch(f"{URL}/{tid}", json={"name": "x"}, headers=h)
        ).status_code == 404
        assert (await client.delete(f"{URL}/{tid}", headers=h)).status_code == 404
        assert (await client.post(f"{URL}/{tid}/preview", headers=h)).status_code == 404
        assert (await client.get(URL, headers=h)).json()["items"] == []

    async def test_learner_and_manager_are_refused(self, client, tenant):
        assert (await client.get(URL, headers=tenant.learner_headers)).status_code == 403
        assert (
            await client.post(URL, json=GOOD, headers=tenant.manager_headers)
        ).status_code == 403
