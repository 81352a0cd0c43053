"""Campaign results: stats and their formulas, per-recipient status, timeline, CSV export."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, update

from models.base import new_id
from models.phishing_campaign import CampaignRecipient, SendStatus
from models.phishing_event import EventType, PhishingEvent
from models.user import Role, User, UserStatus
from services import phishing_results
from tests.support.phishing import PHISHING, make_static_group
from tests.support.results import SentCampaign, sent_campaign

URL = f"{PHISHING}/campaigns"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SCANNER = "scanner user agent"
FAST = "within 2 s of delivery"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def add_events(session, campaign: SentCampaign, *events) -> None:
    """(recipient index, type, seconds after T0, automation reason or None); human first
    times are set on the recipient as the tracking code does."""
    for index, type_, seconds, reason in events:
        row = campaign.recipient(index)
        session.add(
            PhishingEvent(
                company_id=row.company_id,
                campaign_id=row.campaign_id,
                recipient_id=row.id,
                type=type_,
                occurred_at=at(seconds),
                ip="198.51.100.4",
                user_agent="Mozilla/5.0",
                details={},
                automated=reason is not None,
                automation_reason=reason,
            )
        )
        column = f"{type_.value}_at"
        if reason is None and getattr(row, column) is None:
            setattr(row, column, at(seconds))
    await session.commit()


@pytest.fixture
async def scenario(client, session, tenant) -> SentCampaign:
    """Five people: 0 opened, clicked twice and submitted; 1 clicked after a scanner did;
    2 reported; 3 only a scanner's open; 4 refused by the mail server."""
    campaign = await sent_campaign(
        client,
        session,
        tenant,
        n=5,
        departments=["Sales", "Sales", "IT", "IT", "=HYPERLINK(evil)"],
        smtp_replies={4: "550 5.1.1 no such user"},
    )
    await session.execute(
        update(CampaignRecipient)
        .where(CampaignRecipient.send_status == SendStatus.sent)
        .values(sent_at=T0)
    )
    await session.commit()
    for row in campaign.recipients:
        await session.refresh(row)
    await add_events(
        session,
        campaign,
        (0, EventType.opened, 30, None),
        (0, EventType.clicked, 60, None),
        (0, EventType.clicked, 90, None),
        (0, EventType.submitted, 100, None),
        (1, EventType.clicked, 1, SCANNER),
        (1, EventType.clicked, 120, None),
        (2, EventType.reported, 300, None),
        (3, EventType.opened, 2, FAST),
    )
    return campaign


async def get(client, headers, campaign_id: str, what: str, **params):
    r = await client.get(f"{URL}/{campaign_id}/{what}", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


class TestStats:
    async def test_counts_rates_medians_and_automation(self, client, tenant, scenario):
        stats = await get(client, tenant.admin_headers, scenario.id, "stats")
        assert stats["scope"] == "company"
        assert {k: stats[k] for k in ("recipients", "sent", "delivered", "scheduled")} == {
            "recipients": 5,
            "sent": 4,
            "delivered": 4,
            "scheduled": 0,
        }
        assert {k: stats[k] for k in ("opened", "clicked", "submitted", "reported")} == {
            "opened": 2,
            "clicked": 2,
            "submitted": 1,
            "reported": 1,
        }
        assert stats["errors"] == {"total": 1, "failed": 1, "unknown": 0}
        assert stats["rates"] == {
            "click_rate": 0.5,
            "submit_rate": 0.25,
            "report_rate": 0.25,
            "phish_prone": 0.5,
        }
        assert stats["median_seconds_to_click"] == 90.0
        assert stats["median_seconds_to_report"] == 300.0
        automation = stats["automation"]
        assert (automation["events"], automation["recipients"]) == (2, 2)
        reasons = sorted((r["reason"], r["events"]) for r in automation["reasons"])
        assert reasons == sorted([(FAST, 1), (SCANNER, 1)])

    async def test_a_draft_has_zeros_and_no_rates(self, client, session, tenant):
        campaign = await sent_campaign(client, session, tenant, n=1, smtp_replies={0: "550 no"})
        stats = await get(client, tenant.admin_headers, campaign.id, "stats")
        assert stats["delivered"] == 0
        assert stats["rates"]["click_rate"] is None
        assert stats["median_seconds_to_click"] is None

    async def test_an_unknown_send_someone_clicked_counts_as_delivered(
        self, client, session, tenant, scenario
    ):
        await session.execute(
            update(CampaignRecipient)
            .where(CampaignRecipient.id == scenario.recipient(1).id)
            .values(send_status=SendStatus.unknown)
        )
        await session.commit()
        stats = await get(client, tenant.admin_headers, scenario.id, "stats")
        assert (stats["sent"], stats["delivered"]) == (3, 4)
        assert stats["errors"] == {"total": 2, "failed": 1, "unknown": 1}

    async def test_a_reported_simulation_counts(self, client, session, tenant):
        campaign = await sent_campaign(client, session, tenant, n=2)
        r = await client.post(
            f"{PHISHING}/reports",
            content=campaign.raw(0),
            headers={**tenant.learner_headers, "Content-Type": "message/rfc822"},
        )
        assert r.json() == {"simulation": True}
        stats = await get(client, tenant.admin_headers, campaign.id, "stats")
        assert stats["reported"] == 1
        assert stats["rates"]["report_rate"] == 0.5
        assert stats["median_seconds_to_report"] >= 0

    async def test_tracking_links_feed_the_stats(self, client, session, tenant):
        campaign = await sent_campaign(client, session, tenant, n=2)
        human = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"}
        scanner = {"User-Agent": "Mimecast URL scanner"}
        await client.get(f"/t/c/{campaign.recipient(0).token}", headers=human)
        await client.get(f"/t/c/{campaign.recipient(0).token}", headers=human)
        await client.get(f"/t/c/{campaign.recipient(1).token}", headers=scanner)
        stats = await get(client, tenant.admin_headers, campaign.id, "stats")
        assert (stats["opened"], stats["clicked"], stats["delivered"]) == (1, 1, 2)
        assert stats["automation"]["recipients"] == 1
        assert 3500 < stats["median_seconds_to_click"] < 3700
        events = await get(client, tenant.admin_headers, campaign.id, "events")
        assert len(events["items"]) == 3


class TestResults:
    async def test_each_recipients_furthest_step(self, client, tenant, scenario):
        page = await get(client, tenant.admin_headers, scenario.id, "results")
        by_email = {item["email"]: item for item in page["items"]}
        expected = ["submitted", "clicked", "reported", "sent", "failed"]
        assert [by_email[r.email]["status"] for r in scenario.recipients] == expected
        assert by_email[scenario.recipient(1).email]["automated_events"] == 1
        assert by_email[scenario.recipient(4).email]["last_error"].startswith("550")

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"status": "clicked"}, [1]),
            ({"status": "failed"}, [4]),
            ({"department": "IT"}, [2, 3]),
            ({"automated": "true"}, [1, 3]),
            ({"automated": "false"}, [0, 2, 4]),
            ({"department": "Sales", "automated": "true"}, [1]),
        ],
    )
    async def test_filters(self, client, tenant, scenario, params, expected):
        page = await get(client, tenant.admin_headers, scenario.id, "results", **params)
        emails = sorted(item["email"] for item in page["items"])
        assert emails == sorted(scenario.recipient(i).email for i in expected)

    async def test_keyset_pages_cover_everyone_once(self, client, tenant, scenario):
        seen, cursor = [], None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = await get(client, tenant.admin_headers, scenario.id, "results", **params)
            seen += [item["id"] for item in page["items"]]
            if not (cursor := page["next_cursor"]):
                break
        assert sorted(seen) == sorted(str(r.id) for r in scenario.recipients)

    async def test_bad_filter_is_422(self, client, tenant, scenario):
        r = await client.get(
            f"{URL}/{scenario.id}/results", params={"status": "won"}, headers=tenant.admin_headers
        )
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "validation_error"
        r = await client.get(
            f"{URL}/{scenario.id}/results", params={"cursor": "junk"}, headers=tenant.admin_headers
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "invalid_cursor"


class TestEvents:
    async def test_the_timeline_keeps_repeats_and_scanners(self, client, tenant, scenario):
        page = await get(client, tenant.admin_headers, scenario.id, "events")
        assert len(page["items"]) == 8
        scanner = [e for e in page["items"] if e["automated"]]
        assert sorted(e["automation_reason"] for e in scanner) == sorted([FAST, SCANNER])
        assert {e["email"] for e in page["items"]} >= {scenario.recipient(0).email}

    @pytest.mark.parametrize(
        ("params", "expected"),
        [({"type": "clicked"}, 4), ({"automated": "true"}, 2), ({"automated": "false"}, 6)],
    )
    async def test_filters(self, client, tenant, scenario, params, expected):
        page = await get(client, tenant.admin_headers, scenario.id, "events", **params)
        assert len(page["items"]) == expected

    async def test_one_recipients_events(self, client, tenant, scenario):
        recipient = str(scenario.recipient(0).id)
        page = await get(
            client, tenant.admin_headers, scenario.id, "events", recipient_id=recipient
        )
        assert [e["type"] for e in page["items"]] == ["submitted", "clicked", "clicked", "opened"]


class TestExport:
    async def test_csv_has_everyone_and_no_formulas(self, client, tenant, scenario):
        r = await client.get(f"{URL}/{scenario.id}/export.csv", headers=tenant.admin_headers)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert len(rows) == 5
        by_email = {row["email"]: row for row in rows}
        refused = by_email[scenario.recipient(4).email]
        assert refused["department"] == "'=HYPERLINK(evil)"
        assert refused["status"] == "failed"
        assert by_email[scenario.recipient(0).email]["submitted_at"] == at(100).isoformat()

    async def test_filters_apply(self, client, tenant, scenario):
        r = await client.get(
            f"{URL}/{scenario.id}/export.csv",
            params={"department": "Sales"},
            headers=tenant.admin_headers,
        )
        assert len(list(csv.DictReader(io.StringIO(r.text)))) == 2

    async def test_streams_past_one_page(self, client, session, tenant, scenario, monkeypatch):
        monkeypatch.setattr(phishing_results, "EXPORT_PAGE", 2)
        users = [
            {
                "id": new_id(),
                "company_id": tenant.company.id,
                "email": f"bulk{i}.{uuid.uuid4().hex[:4]}@acme.example.com",
                "role": Role.learner,
                "status": UserStatus.active,
                "custom_attributes": {},
            }
            for i in range(7)
        ]
        await session.execute(insert(User), users)
        template = scenario.recipient(0)
        await session.execute(
            insert(CampaignRecipient),
            [
                {
                    "id": new_id(),
                    "company_id": tenant.company.id,
                    "campaign_id": template.campaign_id,
                    "user_id": u["id"],
                    "sending_profile_id": template.sending_profile_id,
                    "template_id": template.template_id,
                    "email": u["email"],
                    "timezone": "UTC",
                    "token": uuid.uuid4().hex,
                    "message_id": f"<{uuid.uuid4().hex}@acme.example.com>",
                    "send_at": T0,
                }
                for u in users
            ],
        )
        await session.commit()
        r = await client.get(f"{URL}/{scenario.id}/export.csv", headers=tenant.admin_headers)
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert len(rows) == 12
        assert len({row["email"] for row in rows}) == 12
        assert sum(row["status"] == "scheduled" for row in rows) == 7


WHATS = ("stats", "results", "events", "export.csv")


class TestAccess:
    @pytest.mark.parametrize("what", WHATS)
    async def test_another_companys_campaign_is_404(
        self, client, session, tenant, other_tenant, what
    ):
        theirs = await sent_campaign(client, session, other_tenant, n=1)
        r = await client.get(f"{URL}/{theirs.id}/{what}", headers=tenant.admin_headers)
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "campaign_not_found"

    @pytest.mark.parametrize("what", WHATS)
    async def test_learners_are_refused(self, client, tenant, scenario, what):
        r = await client.get(f"{URL}/{scenario.id}/{what}", headers=tenant.learner_headers)
        assert r.status_code == 403

    async def test_a_manager_sees_only_the_people_of_their_groups(self, client, tenant, scenario):
        group = await make_static_group(
            client,
            tenant.admin_headers,
            [str(scenario.recipient(0).user_id), str(scenario.recipient(2).user_id)],
            name="Managed",
        )
        r = await client.put(
            f"/api/v1/groups/{group}/managers",
            json={"user_ids": [str(tenant.manager.id)]},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 200, r.text
        h = tenant.manager_headers
        stats = await get(client, h, scenario.id, "stats")
        assert stats["scope"] == "managed_groups"
        assert (stats["recipients"], stats["clicked"], stats["reported"]) == (2, 1, 1)
        assert stats["automation"]["events"] == 0
        results = await get(client, h, scenario.id, "results")
        assert len(results["items"]) == 2
        events = await get(client, h, scenario.id, "events")
        assert {e["recipient_id"] for e in events["items"]} == {
            str(scenario.recipient(0).id),
            str(scenario.recipient(2).id),
        }
        r = await client.get(f"{URL}/{scenario.id}/export.csv", headers=h)
        assert len(list(csv.DictReader(io.StringIO(r.text)))) == 2

    async def test_a_manager_of_no_group_sees_nobody(self, client, tenant, scenario):
        stats = await get(client, tenant.manager_headers, scenario.id, "stats")
        assert stats["recipients"] == 0
