"""Public tracking links: opens, clicks, submits and reports become events; scanners are
marked; finished campaigns and unknown tokens get a neutral answer; clickers are enrolled
in the remedial course once; no password is ever stored."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text, update

from models.enrollment import Enrollment
from models.phishing_campaign import CampaignRecipient
from models.phishing_event import EventType, PhishingEvent
from services import phishing_events, tracking
from tests.support import results
from tests.support.mail import outbox_messages
from tests.support.phishing import PHISHING, make_profile, make_template
from tests.support.training import make_course

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
SECRET = "hunter2-Sup3r-secret"
PAGE_HTML = (
    "<h1>Sign in</h1><form><input name='username'><input type='password' name='pw'>"
    "<button>Sign in</button></form>"
)


@pytest.fixture(autouse=True)
def _fresh_cache():
    tracking.targets.clear()
    yield
    tracking.targets.clear()


async def sent_campaign(client, session, tenant, *, n=3, landing=True, **campaign):
    """A sent campaign (tests.support.results) with a sign-in landing page unless
    `landing=False`, and a template with red flags."""
    sent = await results.sent_campaign(
        client,
        session,
        tenant,
        n=n,
        landing_page=(
            {"name": "Sign-in", "html": PAGE_HTML, "capture_values": True} if landing else None
        ),
        template={"red_flags": ["Urgent deadline", "Lookalike sender <x>"]},
        **campaign,
    )
    return {"id": sent.id}, sent.recipients


async def events(session, recipient_id) -> list[PhishingEvent]:
    rows = await session.scalars(
        select(PhishingEvent)
        .where(PhishingEvent.recipient_id == recipient_id)
        .order_by(PhishingEvent.occurred_at)
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def fresh(session, row) -> CampaignRecipient:
    found = await session.scalar(
        select(CampaignRecipient)
        .where(CampaignRecipient.id == row.id)
        .execution_options(populate_existing=True)
    )
    assert found is not None
    return found


class TestOpenAndClick:
    async def test_open_pixel_records_once_and_never_caches(self, client, session, tenant):
        _, rows = await sent_campaign(client, session, tenant, n=1)
        row = rows[0]
        for _ in range(2):
            r = await client.get(f"/t/o/{row.token}", headers={"User-Agent": BROWSER})
            assert r.status_code == 200
            assert r.headers["content-type"] == "image/gif"
            assert "no-store" in r.headers["cache-control"]
        found = await events(session, row.id)
        assert [e.type for e in found] == [EventType.opened, EventType.opened]
        assert not any(e.automated for e in found)
        first = (await fresh(session, row)).opened_at
        assert first is not None
        assert abs(first - found[0].occurred_at) < timedelta(seconds=1)

    async def test_the_pixel_fast_path_keeps_the_edge_headers_and_the_metrics_label(
        self, client, session, tenant
    ):
        _, rows = await sent_campaign(client, session, tenant, n=1)
        r = await client.get(f"/t/o/{rows[0].token}", headers={"User-Agent": BROWSER})
        assert r.headers["x-request-id"]
        assert r.headers["x-content-type-options"] == "nosniff"
        head = await client.head(f"/t/o/{rows[0].token}", headers={"User-Agent": BROWSER})
        assert head.status_code == 200
        assert head.content == b""
        assert [e.automated for e in await events(session, rows[0].id)] == [False, True]
        metrics = await client.get("/metrics")
        assert 'route="/t/o/{token}"' in metrics.text
        assert rows[0].token not in metrics.text

    async def test_click_shows_the_landing_page_posting_back_to_us(self, client, session, tenant):
        _, rows = await sent_campaign(client, session, tenant, n=1)
        row = rows[0]
        r = await client.get(f"/t/c/{row.token}", headers={"User-Agent": BROWSER})
        assert r.status_code == 200
        assert f'action="/t/s/{row.token}"' in r.text
        assert "script-src" not in r.headers["content-security-policy"]
        assert "form-action 'self'" in r.headers["content-security-policy"]
        assert (await fresh(session, row)).clicked_at is not None

    async def test_a_later_open_does_not_undo_a_click(self, client, session, tenant):
        _, rows = await sent_campaign(client, session, tenant, n=1)
        row = rows[0]
        await client.get(f"/t/c/{row.token}", headers={"User-Agent": BROWSER})
        await client.get(f"/t/o/{row.token}", headers={"User-Agent": BROWSER})
        now = await fresh(session, row)
        assert now.clicked_at is not None
        assert now.opened_at is not None

    async def test_without_landing_page_the_teachable_moment_shows_the_red_flags(
        self, client, session, tenant
    ):
        _, rows = await sent_campaign(client, session, tenant, n=1, landing=False)
        r = await client.get(f"/t/c/{rows[0].token}", headers={"User-Agent": BROWSER})
        assert r.status_code == 200
        assert "Urgent deadline" in r.text
        assert "Lookalike sender &lt;x&gt;" in r.text
        assert "<script" not in r.text


class TestScanners:
    @pytest.mark.parametrize(
        ("headers", "method", "reason"),
        [
            ({"User-Agent": "Mozilla/5.0 (compatible; Barracuda Sentinel)"}, "GET", "scanner"),
            ({"User-Agent": "python-requests/2.32"}, "GET", "scanner"),
            ({"User-Agent": ""}, "GET", "no user agent"),
            ({"User-Agent": "python-httpx/0.28"}, "GET", "scanner"),
            ({"User-Agent": BROWSER}, "HEAD", "HEAD"),
            ({"User-Agent": BROWSER, "Sec-Purpose": "prefetch"}, "GET", "prefetch"),
        ],
    )
    async def test_scanners_are_kept_but_not_counted(
        self, client, session, tenant, headers, method, reason
    ):
        _, rows = await sent_campaign(client, session, tenant, n=1)
        row = rows[0]
        r = await client.request(method, f"/t/c/{row.token}", headers=headers)
        assert r.status_code == 200
        (event,) = await events(session, row.id)
        assert event.automated
        assert reason in (event.automation_reason or "")
        assert (await fresh(session, row)).clicked_at is None

    async def test_a_click_seconds_after_delivery_is_suspected(self, client, session, tenant):
        _, rows = await sent_campaign(client, session, tenant, n=1)
        row = rows[0]
        await session.execute(
            update(CampaignRecipient)
            .where(CampaignRecipient.id == row.id)
            .values(sent_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
        tracking.targets.clear()
        await client.get(f"/t/c/{row.token}", headers={"User-Agent": BROWSER})
        (event,) = await events(session, row.id)
        assert event.automated
        assert "after delivery" in (event.automation_reason or "")


class TestSubmit:
    async def test_field_names_and_values_but_never_the_password(self, client, session, tenant):
        _, rows = await sent_campaign(client, session, tenant, n=1)
        row = rows[0]
        r = await client.post(
            f"/t/s/{row.token}",
            data={"username": "alex", "pw": SECRET},
            headers={"User-Agent": BROWSER},
        )
        assert r.status_code == 200
        assert "simulation" in r.text.lower()
        (event,) = await events(session, row.id)
        assert event.type is EventType.submitted
        assert event.details["fields"] == ["pw", "username"]
        assert event.details["values"] == {"username": "alex"}
        assert (await fresh(session, row)).submitted_at is not None
        # Nowhere in the database.
        dump = await session.execute(text("SELECT details FROM phishing_events"))
        assert SECRET not in str(dump.all())

    async def test_huge_and_binary_posts_are_handled(self, client, session, tenant):
        _, rows = await sent_campaign(client, session, tenant, n=1)
        row = rows[0]
        big = await client.post(
            f"/t/s/{row.token}",
            content=b"a=" + b"x" * 200_000,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert big.status_code == 413
        assert await events(session, row.id) == []
        binary = await client.post(
            f"/t/s/{row.token}",
            content=bytes(range(256)) * 4,
            headers={"Content-Type": "application/octet-stream", "User-Agent": BROWSER},
        )
        assert binary.status_code == 200
        (event,) = await events(session, row.id)
        assert event.details["fields"] == []


class TestNeutral:
    async def test_unknown_tokens_and_cancelled_campaigns_look_the_same(
        self, client, session, tenant
    ):
        created, rows = await sent_campaign(client, session, tenant, n=1)
        too_long = await client.get("/t/c/" + "A" * 500)
        assert too_long.status_code == 404
        assert "no longer active" in too_long.text
        unknown = await client.get("/t/c/" + "A" * 24)
        assert unknown.status_code == 404
        assert "no longer active" in unknown.text
        assert "vigil" not in unknown.text.lower()
        pixel = await client.get("/t/o/nope")
        assert pixel.status_code == 200
        assert pixel.headers["content-type"] == "image/gif"
        r = await client.post(
            f"{PHISHING}/campaigns/{created['id']}/cancel", headers=tenant.admin_headers
        )
        assert r.status_code == 200
        tracking.targets.clear()
        cancelled = await client.get(f"/t/c/{rows[0].token}", headers={"User-Agent": BROWSER})
        assert cancelled.status_code == 404
        assert cancelled.text == unknown.text
        assert await events(session, rows[0].id) == []

    async def test_report_link_counts_as_a_report(self, client, session, tenant):
        _, rows = await sent_campaign(client, session, tenant, n=1)
        r = await client.get(f"/t/r/{rows[0].token}", headers={"User-Agent": BROWSER})
        assert r.status_code == 200
        assert (await fresh(session, rows[0])).reported_at is not None


class TestRemediation:
    async def test_clickers_are_enrolled_once_and_emailed(self, client, session, tenant):
        course = await make_course(client, tenant.admin_headers, title="Spot the phish")
        _, rows = await sent_campaign(
            client, session, tenant, n=2, landing=False, remediation_course_id=course["id"]
        )
        clicker = rows[0]
        for _ in range(3):
            await client.get(f"/t/c/{clicker.token}", headers={"User-Agent": BROWSER})
        await client.post(f"/t/s/{clicker.token}", data={"a": "b"}, headers={"User-Agent": BROWSER})
        enrolled = (
            await session.scalars(
                select(Enrollment.user_id).where(Enrollment.course_id == uuid.UUID(course["id"]))
            )
        ).all()
        assert enrolled == [clicker.user_id]
        mails = outbox_messages(clicker.email)
        assert len(mails) == 1
        assert "Spot the phish" in str(mails[0]["Subject"])

    async def test_an_unpublished_remedial_course_is_refused(self, client, tenant):
        course = await make_course(client, tenant.admin_headers, publish=False)
        profile = await make_profile(client, tenant.admin_headers)
        template = await make_template(client, tenant.admin_headers)
        r = await client.post(
            f"{PHISHING}/campaigns",
            json={
                "name": "x",
                "sending_profile_id": profile,
                "template_ids": [template],
                "remediation_course_id": course["id"],
            },
            headers=tenant.admin_headers,
        )
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "campaign_reference_invalid"


class TestListeners:
    async def test_listeners_hear_committed_events(self, client, session, tenant):
        heard: list[phishing_events.EventView] = []

        async def listen(batch):
            heard.extend(batch)

        phishing_events.on_event(listen)
        try:
            _, rows = await sent_campaign(client, session, tenant, n=1)
            await client.get(f"/t/c/{rows[0].token}", headers={"User-Agent": BROWSER})
        finally:
            phishing_events._listeners.remove(listen)
        assert [(e.type, e.first) for e in heard] == [(EventType.clicked, True)]
        assert heard[0].recipient_id == rows[0].id


async def test_events_are_append_only_for_the_app(session):
    count = await session.scalar(select(func.count()).select_from(PhishingEvent))
    assert count == 0


class TestWebhooks:
    async def test_first_human_events_are_queued_for_subscribed_endpoints(
        self, client, session, tenant
    ):
        from models.webhook import WebhookDelivery

        r = await client.post(
            "/api/v1/webhooks",
            json={"url": "http://127.0.0.1:9/hook", "events": ["phishing.*"]},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 201, r.text
        _, rows = await sent_campaign(client, session, tenant, n=1)
        token = rows[0].token
        await client.get(f"/t/c/{token}", headers={"User-Agent": BROWSER})
        await client.get(f"/t/c/{token}", headers={"User-Agent": BROWSER})  # a repeat
        await client.get(f"/t/o/{token}", headers={"User-Agent": "python-requests/2"})  # a bot
        types = (await session.scalars(select(WebhookDelivery.event_type))).all()
        assert types == ["phishing.link_clicked"]


class TestCustomTeachableMoment:
    async def test_a_company_replaces_the_page_and_can_restore_ours(self, client, session, tenant):
        custom = (
            "<main><h1>Gotcha, {{ first_name }}!</h1><ul>{% for f in red_flags %}<li>{{ f }}</li>"
            "{% endfor %}</ul><script>alert(1)</script></main>"
        )
        r = await client.patch(
            "/api/v1/companies/me",
            json={"teachable_moment_html": custom},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 200, r.text
        _, rows = await sent_campaign(client, session, tenant, n=1, landing=False)
        page = await client.get(f"/t/c/{rows[0].token}", headers={"User-Agent": BROWSER})
        assert "Gotcha" in page.text
        assert "Urgent deadline" in page.text
        assert "<script" not in page.text
        r = await client.patch(
            "/api/v1/companies/me",
            json={"teachable_moment_html": None},
            headers=tenant.admin_headers,
        )
        assert r.json()["teachable_moment_html"] is None

    @pytest.mark.parametrize(
        "source",
        ["{{ unknown_variable }}", "{% for %}", "{{ ''.__class__.__mro__ }}"],
    )
    async def test_a_page_that_cannot_render_is_refused(self, client, tenant, source):
        r = await client.patch(
            "/api/v1/companies/me",
            json={"teachable_moment_html": source},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "template_invalid"
        me = await client.get("/api/v1/companies/me", headers=tenant.admin_headers)
        assert me.json()["teachable_moment_html"] is None
