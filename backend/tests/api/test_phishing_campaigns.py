"""Phishing campaigns: references, launch (frozen recipients, planned sends), lifecycle,
and durable sending to a real SMTP server on loopback."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from core.config import settings
from models.phishing_campaign import CampaignRecipient, PhishingCampaign, SendStatus
from models.user import User, UserStatus
from services import phishing_sender
from tests.factories import make_user
from tests.support.phishing import (
    PHISHING,
    make_campaign,
    make_profile,
    make_static_group,
    make_template,
)
from tests.support.smtp import smtp_test_server

URL = f"{PHISHING}/campaigns"


async def people(session, tenant, n: int, **fields) -> list[str]:
    users = [
        await make_user(
            session,
            tenant.company,
            email=f"person{i}.{uuid.uuid4().hex[:6]}@acme.example.com",
            first_name=f"First{i}",
            last_name=f"Last{i}",
            **fields,
        )
        for i in range(n)
    ]
    await session.commit()
    return [str(u.id) for u in users]


async def emails_of(session, user_ids: list[str]) -> list[str]:
    found = dict(
        (
            await session.execute(
                select(User.id, User.email).where(User.id.in_([uuid.UUID(u) for u in user_ids]))
            )
        ).all()
    )
    return [found[uuid.UUID(u)] for u in user_ids]


async def recipients(session, campaign_id: str) -> list[CampaignRecipient]:
    rows = await session.scalars(
        select(CampaignRecipient)
        .where(CampaignRecipient.campaign_id == uuid.UUID(campaign_id))
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def arrange(client, session, tenant, *, n: int = 3, port: int = 25, **campaign):
    user_ids = await people(session, tenant, n)
    profile = await make_profile(client, tenant.admin_headers, port=port)
    template = await make_template(client, tenant.admin_headers)
    group = await make_static_group(client, tenant.admin_headers, user_ids)
    created = await make_campaign(
        client,
        tenant.admin_headers,
        profile_id=profile,
        template_ids=[template],
        group_ids=[group],
        **campaign,
    )
    return created, user_ids, group


async def launch(client, tenant, campaign_id: str, **body):
    return await client.post(f"{URL}/{campaign_id}/launch", json=body, headers=tenant.admin_headers)


class TestConfigure:
    async def test_another_companys_profile_or_template_is_refused(
        self, client, tenant, other_tenant
    ):
        mine = await make_profile(client, tenant.admin_headers)
        theirs_profile = await make_profile(client, other_tenant.admin_headers)
        theirs_template = await make_template(client, other_tenant.admin_headers)
        my_template = await make_template(client, tenant.admin_headers)
        for body in (
            {"sending_profile_id": theirs_profile, "template_ids": [my_template]},
            {"sending_profile_id": mine, "template_ids": [theirs_template]},
            {
                "sending_profile_id": mine,
                "template_ids": [my_template],
                "group_ids": [str(uuid.uuid4())],
            },
        ):
            r = await client.post(URL, json={"name": "x", **body}, headers=tenant.admin_headers)
            assert r.status_code == 422, r.text
            assert r.json()["error"]["code"] == "campaign_reference_invalid"
        listed = await client.get(URL, headers=tenant.admin_headers)
        assert listed.json()["items"] == []

    async def test_a_platform_template_is_copied_into_the_company(self, client, tenant):
        profile = await make_profile(client, tenant.admin_headers)
        slug = "parcel-delivery"
        created = await make_campaign(
            client,
            tenant.admin_headers,
            profile_id=profile,
            template_ids=[],
            platform_templates=[slug],
        )
        assert len(created["template_ids"]) == 1
        r = await client.get(
            f"{PHISHING}/templates/{created['template_ids'][0]}", headers=tenant.admin_headers
        )
        assert r.status_code == 200
        bad = await client.post(
            URL,
            json={
                "name": "x",
                "sending_profile_id": profile,
                "platform_templates": ["no-such-lure"],
            },
            headers=tenant.admin_headers,
        )
        assert bad.status_code == 422

    @pytest.mark.parametrize(
        "change",
        [
            {"template_ids": [], "platform_templates": []},
            {"send_window_minutes": -1},
            {"business_hours": {"start": "17:00", "end": "09:00"}},
            {"business_hours": {"days": [7]}},
            {"status": "running"},
            {"launch_at": "2030-01-01T09:00:00"},  # no timezone: ambiguous
        ],
    )
    async def test_bad_fields_are_422(self, client, tenant, change):
        profile = await make_profile(client, tenant.admin_headers)
        template = await make_template(client, tenant.admin_headers)
        body = {"name": "x", "sending_profile_id": profile, "template_ids": [template], **change}
        r = await client.post(URL, json=body, headers=tenant.admin_headers)
        assert r.status_code == 422, r.text

    async def test_other_company_gets_404_everywhere(self, client, session, tenant, other_tenant):
        created, _, _ = await arrange(client, session, tenant, n=1)
        cid = created["id"]
        h = other_tenant.admin_headers
        assert (await client.get(f"{URL}/{cid}", headers=h)).status_code == 404
        assert (
            await client.patch(f"{URL}/{cid}", json={"name": "y"}, headers=h)
        ).status_code == 404
        assert (await client.delete(f"{URL}/{cid}", headers=h)).status_code == 404
        for action in ("launch", "pause", "resume", "cancel"):
            assert (await client.post(f"{URL}/{cid}/{action}", headers=h)).status_code == 404
        assert (await client.get(f"{URL}/{cid}/sends", headers=h)).status_code == 404
        assert (await client.get(URL, headers=h)).json()["items"] == []

    async def test_manager_and_learner_are_refused(self, client, tenant):
        for headers in (tenant.manager_headers, tenant.learner_headers):
            assert (await client.get(URL, headers=headers)).status_code == 403


class TestLaunch:
    async def test_no_recipients_is_422_and_changes_nothing(self, client, session, tenant):
        created, _, _ = await arrange(client, session, tenant, n=0)
        r = await launch(client, tenant, created["id"])
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "campaign_no_recipients"
        assert (await client.get(f"{URL}/{created['id']}", headers=tenant.admin_headers)).json()[
            "status"
        ] == "draft"
        assert await recipients(session, created["id"]) == []

    async def test_duplicates_collapse_disabled_skipped_and_the_list_is_frozen(
        self, client, session, tenant
    ):
        created, user_ids, group = await arrange(
            client,
            session,
            tenant,
            n=3,
            launch_at=(datetime.now(UTC) + timedelta(days=1)).isoformat(),
        )
        disabled = await make_user(
            session, tenant.company, email="gone@acme.example.com", status=UserStatus.disabled
        )
        await session.commit()
        await client.post(
            f"/api/v1/groups/{group}/members",
            json={"user_ids": [str(disabled.id)]},
            headers=tenant.admin_headers,
        )
        # The first person is also listed by id: still one email.
        await client.patch(
            f"{URL}/{created['id']}", json={"user_ids": [user_ids[0]]}, headers=tenant.admin_headers
        )
        r = await launch(client, tenant, created["id"])
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "scheduled"
        assert r.json()["recipient_count"] == 3
        rows = await recipients(session, created["id"])
        assert sorted(str(r.user_id) for r in rows) == sorted(user_ids)
        # Joining the group later does not change a launched campaign.
        late = await people(session, tenant, 1)
        await client.post(
            f"/api/v1/groups/{group}/members", json={"user_ids": late}, headers=tenant.admin_headers
        )
        assert len(await recipients(session, created["id"])) == 3
        # Tokens: unique, URL-safe, at least 128 bits; Message-IDs unique and fixed.
        tokens = [r.token for r in rows]
        assert len(set(tokens)) == 3
        assert all(len(t) >= 22 for t in tokens)
        assert all(t.replace("-", "").replace("_", "").isalnum() for t in tokens)
        assert len({r.message_id for r in rows}) == 3

    async def test_a_launched_campaign_cannot_be_launched_or_reconfigured(
        self, client, session, tenant
    ):
        created, _, _ = await arrange(client, session, tenant, n=1)
        assert (await launch(client, tenant, created["id"])).status_code == 200
        again = await launch(client, tenant, created["id"])
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "campaign_wrong_state"
        r = await client.patch(
            f"{URL}/{created['id']}", json={"send_window_minutes": 5}, headers=tenant.admin_headers
        )
        assert r.status_code == 409
        r = await client.patch(
            f"{URL}/{created['id']}", json={"name": "Renamed"}, headers=tenant.admin_headers
        )
        assert r.status_code == 200
        assert (
            await client.delete(f"{URL}/{created['id']}", headers=tenant.admin_headers)
        ).status_code == 409

    async def test_sends_are_spread_over_the_window_in_random_order(self, client, session, tenant):
        created, _, _ = await arrange(client, session, tenant, n=20, send_window_minutes=10)
        before = datetime.now(UTC)
        assert (await launch(client, tenant, created["id"])).status_code == 200
        rows = await recipients(session, created["id"])
        times = [r.send_at for r in rows]
        assert all(
            before - timedelta(seconds=1) <= t <= before + timedelta(minutes=10, seconds=5)
            for t in times
        )
        assert len(set(times)) == 20
        # Spread: not bunched at the start.
        assert max(times) - min(times) > timedelta(minutes=5)
        by_user = [t for _, t in sorted((r.user_id, r.send_at) for r in rows)]
        assert by_user != sorted(by_user)

    async def test_business_hours_in_each_recipients_timezone(self, client, session, tenant):
        tokyo = await people(session, tenant, 5, timezone="Asia/Tokyo")
        paris = await people(session, tenant, 5, timezone="Europe/Paris")
        profile = await make_profile(client, tenant.admin_headers)
        template = await make_template(client, tenant.admin_headers)
        created = await make_campaign(
            client,
            tenant.admin_headers,
            profile_id=profile,
            template_ids=[template],
            user_ids=tokyo + paris,
            send_window_minutes=60 * 24,
            business_hours={"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"},
        )
        assert (await launch(client, tenant, created["id"])).status_code == 200
        from zoneinfo import ZoneInfo

        for row in await recipients(session, created["id"]):
            local = row.send_at.astimezone(ZoneInfo(row.timezone))
            assert local.weekday() < 5, local
            assert 9 <= local.hour < 17, local


class TestSending:
    async def test_every_recipient_gets_one_personal_email(self, client, session, tenant):
        async with smtp_test_server() as smtp:
            created, _, _ = await arrange(client, session, tenant, n=5, port=smtp.port)
            assert (await launch(client, tenant, created["id"])).status_code == 200
            result = await phishing_sender.run_pass()
            assert result.claimed == 5
            assert dict(result.outcomes) == {"sent": 5}
            assert await phishing_sender.run_pass() == phishing_sender.PassResult()
        rows = {r.email: r for r in await recipients(session, created["id"])}
        assert len(smtp.received) == 5
        assert sorted(m.rcpt_tos[0] for m in smtp.received) == sorted(rows)
        for mail in smtp.received:
            row = rows[mail.rcpt_tos[0]]
            assert row.send_status is SendStatus.sent
            assert row.sent_at is not None
            msg = mail.message
            assert msg["Message-ID"] == row.message_id
            assert msg[settings.phishing_report_header] == row.token
            assert msg["Subject"] == f"{row.first_name}, your password expires today"
            html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
            assert f"/t/c/{row.token}" in html
            assert f"/t/o/{row.token}" in html
            assert f"Hi {row.first_name} {row.last_name}" in html
            assert mail.mail_from == "it@acme-support.example.com"
        detail = (await client.get(f"{URL}/{created['id']}", headers=tenant.admin_headers)).json()
        assert detail["sends"]["sent"] == 5

    async def test_4xx_retries_later_5xx_fails_with_the_reply(self, client, session, tenant):
        user_ids = await people(session, tenant, 3)
        busy, refused, fine = await emails_of(session, user_ids)
        async with smtp_test_server(
            replies={busy: "451 4.3.0 try again later", refused: "550 5.1.1 no such user"}
        ) as smtp:
            profile = await make_profile(client, tenant.admin_headers, port=smtp.port)
            template = await make_template(client, tenant.admin_headers)
            created = await make_campaign(
                client,
                tenant.admin_headers,
                profile_id=profile,
                template_ids=[template],
                user_ids=user_ids,
            )
            await launch(client, tenant, created["id"])
            result = await phishing_sender.run_pass()
        assert dict(result.outcomes) == {"sent": 1, "pending": 1, "failed": 1}
        rows = {r.email: r for r in await recipients(session, created["id"])}
        assert rows[fine].send_status is SendStatus.sent
        assert rows[refused].send_status is SendStatus.failed
        assert (rows[refused].last_error or "").startswith("550")
        assert rows[busy].send_status is SendStatus.pending
        assert (rows[busy].last_error or "").startswith("451")
        assert rows[busy].send_at > datetime.now(UTC) + timedelta(seconds=30)
        assert rows[busy].attempts == 1
        assert [m.rcpt_tos for m in smtp.received] == [[fine]]

    async def test_connection_lost_after_the_data_is_unknown_not_resent(
        self, client, session, tenant
    ):
        user_ids = await people(session, tenant, 3)
        dropped = (await emails_of(session, user_ids))[1]
        async with smtp_test_server(drop_during_data=frozenset({dropped})) as smtp:
            profile = await make_profile(client, tenant.admin_headers, port=smtp.port)
            template = await make_template(client, tenant.admin_headers)
            created = await make_campaign(
                client,
                tenant.admin_headers,
                profile_id=profile,
                template_ids=[template],
                user_ids=user_ids,
            )
            await launch(client, tenant, created["id"])
            result = await phishing_sender.run_pass()
            assert dict(result.outcomes) == {"sent": 2, "unknown": 1}
            assert (await phishing_sender.run_pass()).claimed == 0
        rows = {r.email: r for r in await recipients(session, created["id"])}
        assert rows[dropped].send_status is SendStatus.unknown
        assert len(smtp.received) == 2

    async def test_a_refused_login_fails_with_the_servers_answer(self, client, session, tenant):
        async with smtp_test_server(credentials=("mailer", "right")) as smtp:
            user_ids = await people(session, tenant, 2)
            profile = await make_profile(
                client, tenant.admin_headers, port=smtp.port, username="mailer", password="wrong"
            )
            template = await make_template(client, tenant.admin_headers)
            created = await make_campaign(
                client,
                tenant.admin_headers,
                profile_id=profile,
                template_ids=[template],
                user_ids=user_ids,
            )
            await launch(client, tenant, created["id"])
            result = await phishing_sender.run_pass()
        assert dict(result.outcomes) == {"failed": 2}
        assert all(
            (r.last_error or "").startswith("535") for r in await recipients(session, created["id"])
        )
        assert smtp.received == []

    async def test_an_unreachable_server_retries_everything_later(self, client, session, tenant):
        async with smtp_test_server() as smtp:
            port = smtp.port  # closed once the block ends: nothing listens there
        created, _, _ = await arrange(client, session, tenant, n=3, port=port)
        await launch(client, tenant, created["id"])
        result = await phishing_sender.run_pass()
        assert dict(result.outcomes) == {"pending": 3}
        rows = await recipients(session, created["id"])
        assert all(r.send_status is SendStatus.pending and r.attempts == 1 for r in rows)

    async def test_the_profile_rate_limit_holds(self, client, session, tenant):
        async with smtp_test_server() as smtp:
            user_ids = await people(session, tenant, 5)
            profile = await make_profile(
                client, tenant.admin_headers, port=smtp.port, messages_per_minute=3
            )
            template = await make_template(client, tenant.admin_headers)
            created = await make_campaign(
                client,
                tenant.admin_headers,
                profile_id=profile,
                template_ids=[template],
                user_ids=user_ids,
            )
            await launch(client, tenant, created["id"])
            first = await phishing_sender.run_pass()
            second = await phishing_sender.run_pass()
        assert (first.claimed, second.claimed) == (3, 0)
        assert len(smtp.received) == 3

    async def test_pause_holds_sends_resume_releases_cancel_stops(self, client, session, tenant):
        async with smtp_test_server() as smtp:
            created, _, _ = await arrange(client, session, tenant, n=4, port=smtp.port)
            cid = created["id"]
            await launch(client, tenant, cid)
            # A worker has claimed everything but not sent yet when the admin pauses.
            owner = uuid.uuid4()
            claimed = await phishing_sender.claim(datetime.now(UTC), owner, 10)
            assert len(claimed) == 4
            r = await client.post(f"{URL}/{cid}/pause", headers=tenant.admin_headers)
            assert r.json()["status"] == "paused"
            counts = await phishing_sender.deliver(claimed, owner)
            assert counts == {}
            assert smtp.received == []
            assert (await phishing_sender.run_pass()).claimed == 0
            r = await client.post(f"{URL}/{cid}/resume", headers=tenant.admin_headers)
            assert r.json()["status"] == "running"
            owner = uuid.uuid4()
            two = await phishing_sender.claim(datetime.now(UTC), owner, 2)
            await phishing_sender.deliver(two, owner)
            assert len(smtp.received) == 2
            r = await client.post(f"{URL}/{cid}/cancel", headers=tenant.admin_headers)
            assert r.json()["status"] == "cancelled"
            assert (await phishing_sender.run_pass()).claimed == 0
            again = await client.post(f"{URL}/{cid}/cancel", headers=tenant.admin_headers)
            assert again.status_code == 409
        statuses = sorted(r.send_status.value for r in await recipients(session, cid))
        assert statuses == ["cancelled", "cancelled", "sent", "sent"]
        assert len(smtp.received) == 2

    async def test_expired_leases_are_claimed_again_and_stale_handovers_settle_unknown(
        self, client, session, tenant
    ):
        async with smtp_test_server() as smtp:
            created, _, _ = await arrange(client, session, tenant, n=2, port=smtp.port)
            await launch(client, tenant, created["id"])
            now = datetime.now(UTC)
            dead_worker = uuid.uuid4()
            taken = await phishing_sender.claim(now, dead_worker, 10)
            assert len(taken) == 2
            # The dead worker had started handing the first one over.
            await session.execute(
                update(CampaignRecipient)
                .where(CampaignRecipient.id == taken[0].id)
                .values(send_status=SendStatus.handover)
            )
            await session.commit()
            assert await phishing_sender.claim(now, uuid.uuid4(), 10) == []  # still leased
            later = now + timedelta(seconds=settings.send_lease_seconds + 1)
            await phishing_sender.housekeeping(later)
            survivor = uuid.uuid4()
            again = await phishing_sender.claim(later, survivor, 10)
            assert [s.id for s in again] == [taken[1].id]
            assert again[0].attempts == 2
            assert await phishing_sender.deliver(again, survivor) == {"sent": 1}
            # The dead worker's late write cannot touch rows it no longer holds.
            recorder_rows = await phishing_sender.deliver(taken[1:], dead_worker)
            assert recorder_rows == {}
        rows = {r.id: r for r in await recipients(session, created["id"])}
        assert rows[taken[0].id].send_status is SendStatus.unknown
        assert rows[taken[1].id].send_status is SendStatus.sent
        assert len(smtp.received) == 1

    async def test_campaign_completes_after_its_last_send(self, client, session, tenant):
        async with smtp_test_server() as smtp:
            created, _, _ = await arrange(
                client, session, tenant, n=2, port=smtp.port, complete_after_days=0
            )
            await launch(client, tenant, created["id"])
            await phishing_sender.run_pass()
            await phishing_sender.housekeeping(datetime.now(UTC) + timedelta(seconds=1))
        campaign = await session.get(PhishingCampaign, uuid.UUID(created["id"]))
        await session.refresh(campaign)
        assert campaign.status.value == "completed"
        assert campaign.completed_at is not None

    async def test_a_scheduled_campaign_waits_for_its_time(self, client, session, tenant):
        async with smtp_test_server() as smtp:
            later = datetime.now(UTC) + timedelta(hours=1)
            created, _, _ = await arrange(client, session, tenant, n=2, port=smtp.port)
            r = await launch(client, tenant, created["id"], launch_at=later.isoformat())
            assert r.json()["status"] == "scheduled"
            assert (await phishing_sender.run_pass()).claimed == 0
            await phishing_sender.housekeeping(later + timedelta(seconds=1))
            assert await phishing_sender.claim(later + timedelta(seconds=1), uuid.uuid4(), 10)
        campaign = await session.get(PhishingCampaign, uuid.UUID(created["id"]))
        await session.refresh(campaign)
        assert campaign.status.value == "running"
