"""The report button (`POST /phishing/reports`) and the security team's list of reports."""

from __future__ import annotations

import base64
import hashlib
import uuid
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select

from core.config import settings
from models.api_key import ApiKeyScope
from models.phishing_event import EventType, PhishingEvent
from models.phishing_report import ReportedEmail
from models.webhook import WebhookDelivery, WebhookEndpoint
from tests.factories import make_api_key
from tests.support.mail import outbox_messages
from tests.support.phishing import PHISHING
from tests.support.results import sent_campaign

URL = f"{PHISHING}/reports"
RFC822 = {"Content-Type": "message/rfc822"}
PDF = b"%PDF-1.4 not really a pdf"
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/120.0"


def real_phish(*, token: str | None = None, subject: str = "Your invoice is overdue") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Billing <billing@evil.example.net>"
    msg["Reply-To"] = "collect@evil.example.net"
    msg["Return-Path"] = "<bounce@evil.example.net>"
    msg["To"] = "someone@acme.example.com"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 24 Nov 2026 09:15:00 +0100"
    msg["Message-ID"] = "<abc123@evil.example.net>"
    if token is not None:
        msg[settings.phishing_report_header] = token
    msg.set_content(
        "Pay now: https://evil.example.net/pay?id=1 or https://evil.example.net/pay?id=1."
    )
    msg.add_alternative(
        '<p><a href="https://evil.example.net/login">Log in</a> '
        '<a href="http://tracker.example.org/x?a=1&amp;b=2">here</a></p>',
        subtype="html",
    )
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="invoice.pdf")
    return msg.as_bytes()


async def report(client, headers, body: bytes, **params):
    return await client.post(URL, content=body, headers={**headers, **RFC822}, params=params)


async def count(session, model) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


class TestRealReport:
    async def test_is_stored_parsed_and_the_reporter_thanked(self, client, session, tenant):
        body = real_phish()
        r = await report(client, tenant.learner_headers, body)
        assert r.status_code == 200, r.text
        assert r.json() == {"simulation": False}
        stored = (await session.scalars(select(ReportedEmail))).one()
        assert stored.company_id == tenant.company.id
        assert stored.reporter_user_id == tenant.learner.id
        assert stored.from_address == "Billing <billing@evil.example.net>"
        assert stored.reply_to == "collect@evil.example.net"
        assert stored.return_path == "<bounce@evil.example.net>"
        assert stored.subject == "Your invoice is overdue"
        assert stored.message_id == "<abc123@evil.example.net>"
        assert stored.sent_at is not None
        assert stored.sent_at.hour == 8
        assert stored.urls == [
            "https://evil.example.net/pay?id=1",
            "https://evil.example.net/login",
            "http://tracker.example.org/x?a=1&b=2",
        ]
        assert stored.attachments == [
            {
                "filename": "invoice.pdf",
                "content_type": "application/pdf",
                "size": len(PDF),
                "sha256": hashlib.sha256(PDF).hexdigest(),
            }
        ]
        assert stored.raw == body
        thanks = outbox_messages(tenant.learner.email)
        assert len(thanks) == 1
        assert "Your invoice is overdue" in str(thanks[0].get_payload(0))

    async def test_the_security_team_reads_it(self, client, session, tenant):
        body = real_phish()
        await report(client, tenant.learner_headers, body)
        listed = await client.get(URL, headers=tenant.admin_headers)
        assert listed.status_code == 200, listed.text
        [item] = listed.json()["items"]
        assert item["kind"] == "real"
        assert item["status"] == "new"
        assert item["reporter_email"] == tenant.learner.email
        detail = await client.get(f"{URL}/{item['id']}", headers=tenant.admin_headers)
        assert detail.status_code == 200, detail.text
        assert detail.json()["attachments"][0]["filename"] == "invoice.pdf"
        raw = await client.get(f"{URL}/{item['id']}/raw", headers=tenant.admin_headers)
        assert raw.headers["content-type"] == "message/rfc822"
        assert "attachment" in raw.headers["content-disposition"]
        assert raw.content == body

    async def test_triage_status_and_filter(self, client, tenant):
        await report(client, tenant.learner_headers, real_phish())
        [item] = (await client.get(URL, headers=tenant.admin_headers)).json()["items"]
        r = await client.patch(
            f"{URL}/{item['id']}",
            json={"status": "malicious", "notes": "Blocked sender"},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "malicious"
        new = await client.get(URL, params={"status": "new"}, headers=tenant.admin_headers)
        assert new.json()["items"] == []
        bad = await client.patch(
            f"{URL}/{item['id']}", json={"status": "eaten"}, headers=tenant.admin_headers
        )
        assert bad.status_code == 422
        again = await client.get(f"{URL}/{item['id']}", headers=tenant.admin_headers)
        assert again.json()["status"] == "malicious"

    async def test_json_forms_raw_and_headers(self, client, session, tenant):
        body = real_phish()
        raw = base64.b64encode(body).decode()
        r = await client.post(URL, json={"raw": raw}, headers=tenant.learner_headers)
        assert r.status_code == 200, r.text
        headers = body.split(b"\n\n", 1)[0].decode()
        r = await client.post(URL, json={"headers": headers}, headers=tenant.learner_headers)
        assert r.status_code == 200, r.text
        rows = (await session.scalars(select(ReportedEmail).order_by(ReportedEmail.id))).all()
        assert [row.headers_only for row in rows] == [False, True]
        assert rows[1].subject == "Your invoice is overdue"
        assert rows[1].urls == []

    async def test_webhook_report_received(self, client, session, tenant):
        session.add(
            WebhookEndpoint(
                company_id=tenant.company.id,
                url="https://hooks.example.com/in",
                events=["report.*"],
                secret_encrypted="x",
            )
        )
        await session.commit()
        await report(client, tenant.learner_headers, real_phish())
        delivery = (await session.scalars(select(WebhookDelivery))).one()
        assert delivery.event_type == "report.received"
        assert delivery.payload["data"]["subject"] == "Your invoice is overdue"


class TestApiKey:
    async def test_a_key_names_the_reporter_who_is_thanked(self, client, session, tenant):
        _, secret = await make_api_key(session, tenant.company, scope=ApiKeyScope.read)
        await session.commit()
        r = await report(
            client,
            {"Authorization": f"Bearer {secret}"},
            real_phish(subject="Key report"),
            reporter=tenant.manager.email.upper(),
        )
        assert r.status_code == 200, r.text
        stored = (await session.scalars(select(ReportedEmail))).one()
        assert stored.reporter_user_id == tenant.manager.id
        assert stored.api_key_id is not None
        assert len(outbox_messages(tenant.manager.email)) == 1

    async def test_an_unknown_reporter_is_kept_but_not_emailed(self, client, session, tenant):
        _, secret = await make_api_key(session, tenant.company)
        await session.commit()
        stranger = f"stranger.{uuid.uuid4().hex[:6]}@elsewhere.example.com"
        r = await report(
            client, {"Authorization": f"Bearer {secret}"}, real_phish(), reporter=stranger
        )
        assert r.status_code == 200, r.text
        stored = (await session.scalars(select(ReportedEmail))).one()
        assert (stored.reporter_user_id, stored.reporter_email) == (None, stranger)
        assert outbox_messages(stranger) == []

    async def test_no_credentials_is_401(self, client, session):
        r = await client.post(URL, content=real_phish(), headers=RFC822)
        assert r.status_code == 401
        assert await count(session, ReportedEmail) == 0


class TestSimulationReport:
    async def test_is_the_recipients_report_not_a_real_phish(self, client, session, tenant):
        campaign = await sent_campaign(client, session, tenant, n=2)
        r = await report(client, tenant.learner_headers, campaign.raw(0))
        assert r.status_code == 200, r.text
        assert r.json() == {"simulation": True}
        assert await count(session, ReportedEmail) == 0
        event = (await session.scalars(select(PhishingEvent))).one()
        assert event.type is EventType.reported
        assert event.recipient_id == campaign.recipient(0).id
        await session.refresh(campaign.recipient(0))
        assert campaign.recipient(0).reported_at is not None
        assert outbox_messages(tenant.learner.email) == []

    async def test_after_a_click_and_twice_counts_once(self, client, session, tenant):
        campaign = await sent_campaign(client, session, tenant, n=1)
        row = campaign.recipient(0)
        r = await client.get(f"/t/c/{row.token}", headers={"User-Agent": BROWSER})
        assert r.status_code == 200
        for _ in range(2):
            r = await report(client, tenant.learner_headers, campaign.raw(0))
            assert r.json() == {"simulation": True}
        reports = await session.scalars(
            select(PhishingEvent).where(PhishingEvent.type == EventType.reported)
        )
        assert len(reports.all()) == 2
        await session.refresh(row)
        assert row.reported_at is not None
        assert row.clicked_at is not None
        listed = await client.get(URL, params={"kind": "simulated"}, headers=tenant.admin_headers)
        assert [i["kind"] for i in listed.json()["items"]] == ["simulated", "simulated"]
        assert listed.json()["items"][0]["campaign_id"] == campaign.id

    async def test_a_cancelled_campaign_is_still_a_simulation_but_records_nothing(
        self, client, session, tenant
    ):
        campaign = await sent_campaign(client, session, tenant, n=1)
        r = await client.post(
            f"{PHISHING}/campaigns/{campaign.id}/cancel", headers=tenant.admin_headers
        )
        assert r.status_code == 200, r.text
        r = await report(client, tenant.learner_headers, campaign.raw(0))
        assert r.json() == {"simulation": True}
        assert await count(session, PhishingEvent) == 0
        assert await count(session, ReportedEmail) == 0

    async def test_forwarded_as_an_attachment_is_recognised(self, client, session, tenant):
        campaign = await sent_campaign(client, session, tenant, n=1)
        wrapper = EmailMessage()
        wrapper["From"] = tenant.learner.email
        wrapper["Subject"] = "Fwd: suspicious"
        wrapper.set_content("See attached.")
        wrapper.add_attachment(campaign.messages[campaign.recipient(0).email])
        r = await report(client, tenant.learner_headers, wrapper.as_bytes())
        assert r.json() == {"simulation": True}

    async def test_another_companys_token_is_a_real_report(
        self, client, session, tenant, other_tenant
    ):
        theirs = await sent_campaign(client, session, other_tenant, n=1)
        r = await report(client, tenant.learner_headers, theirs.raw(0))
        assert r.status_code == 200, r.text
        assert r.json() == {"simulation": False}
        assert await count(session, PhishingEvent) == 0
        stored = (await session.scalars(select(ReportedEmail))).one()
        assert stored.company_id == tenant.company.id

    async def test_a_forged_token_is_a_real_report(self, client, session, tenant):
        r = await report(client, tenant.learner_headers, real_phish(token="A" * 24))
        assert r.json() == {"simulation": False}
        assert await count(session, PhishingEvent) == 0


class TestBadInput:
    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"\x00\x01\x02\xff\xfe binary \x00 junk" * 50,
            b"just some words, not an email at all",
            bytes(range(256)) * 10,
        ],
        ids=["empty", "binary", "no-headers", "bytes"],
    )
    async def test_not_an_email_is_422(self, client, session, tenant, body):
        r = await report(client, tenant.learner_headers, body)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "report_message_malformed"
        assert await count(session, ReportedEmail) == 0

    async def test_broken_mime_is_read_as_far_as_it_goes(self, client, session, tenant):
        broken = (
            b"From: x@evil.example.net\r\nSubject: =?utf-8?b?broken?=\r\n"
            b'Content-Type: multipart/mixed; boundary="nope\r\nDate: not a date\r\n\r\n'
            b"--nope\r\nContent-Type: text/html; charset=klingon\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n@@@not base64 https://a.example.net\r\n"
        )
        r = await report(client, tenant.learner_headers, broken)
        assert r.status_code == 200, r.text
        stored = (await session.scalars(select(ReportedEmail))).one()
        assert stored.sent_at is None

    async def test_too_large_is_413(self, client, session, tenant):
        huge = real_phish() + b"A" * (settings.phishing_report_max_bytes + 1)
        r = await report(client, tenant.learner_headers, huge)
        assert r.status_code == 413, r.text
        assert r.json()["error"]["code"] == "payload_too_large"
        encoded = base64.b64encode(huge).decode()
        r = await client.post(URL, json={"raw": encoded}, headers=tenant.learner_headers)
        assert r.status_code == 413, r.text
        assert await count(session, ReportedEmail) == 0

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"raw": "not base64!!"}, "report_body_invalid"),
            ({}, "report_body_invalid"),
            ({"raw": "eA==", "headers": "From: x"}, "report_body_invalid"),
            ({"raw": "eA==", "company_id": str(uuid.uuid4())}, "report_body_invalid"),
        ],
    )
    async def test_bad_json_is_422(self, client, session, tenant, body, code):
        r = await client.post(URL, json=body, headers=tenant.learner_headers)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == code
        assert await count(session, ReportedEmail) == 0

    async def test_other_media_type_is_415(self, client, tenant):
        r = await client.post(
            URL, content=b"x", headers={**tenant.learner_headers, "Content-Type": "image/png"}
        )
        assert r.status_code == 415
        assert r.json()["error"]["code"] == "unsupported_media_type"


class TestAccess:
    async def test_learners_and_managers_cannot_read_reports(self, client, tenant):
        for headers in (tenant.learner_headers, tenant.manager_headers):
            r = await client.get(URL, headers=headers)
            assert r.status_code == 403

    async def test_another_companys_report_is_404(self, client, tenant, other_tenant):
        await report(client, other_tenant.learner_headers, real_phish())
        [theirs] = (await client.get(URL, headers=other_tenant.admin_headers)).json()["items"]
        assert (await client.get(URL, headers=tenant.admin_headers)).json()["items"] == []
        for method, path in (
            ("GET", f"{URL}/{theirs['id']}"),
            ("GET", f"{URL}/{theirs['id']}/raw"),
            ("PATCH", f"{URL}/{theirs['id']}"),
        ):
            body = {"status": "closed"} if method == "PATCH" else None
            r = await client.request(method, path, json=body, headers=tenant.admin_headers)
            assert r.status_code == 404, r.text
            assert r.json()["error"]["code"] == "report_not_found"

    async def test_list_pages_merge_real_and_simulated(self, client, session, tenant):
        campaign = await sent_campaign(client, session, tenant, n=2)
        await report(client, tenant.learner_headers, real_phish(subject="one"))
        await report(client, tenant.learner_headers, campaign.raw(0))
        await report(client, tenant.learner_headers, real_phish(subject="two"))
        await report(client, tenant.learner_headers, campaign.raw(1))
        seen, cursor = [], None
        while True:
            params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
            page = (await client.get(URL, params=params, headers=tenant.admin_headers)).json()
            seen += [(i["kind"], i.get("subject")) for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [("simulated", None), ("real", "two"), ("simulated", None), ("real", "one")]
