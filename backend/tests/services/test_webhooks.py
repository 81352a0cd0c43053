"""Emitting events and delivering them: a real receiver on loopback, real leases, real
retries, and the SSRF guard at delivery time."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from sqlalchemy import update

from core.config import settings
from core.network import is_public_address
from db.scoping import bind_tenant
from db.session import unit_of_work
from models.base import new_id, utcnow
from models.webhook import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from services.webhook_delivery import deliver_due_webhooks, retry_delay, sign
from services.webhooks import emit
from tests.conftest import OwnerSession
from tests.support.mail import outbox_messages
from tests.support.webhooks import (
    deliveries,
    drive_until,
    emit_committed,
    make_endpoint,
    webhook_receiver,
)

SECRET = "whsec_test-secret-0123456789abcdef"


async def endpoint_for(company_id, url, **fields):
    async with OwnerSession() as session:
        endpoint = await make_endpoint(session, company_id, url, secret=SECRET, **fields)
        await session.commit()
        return endpoint


async def endpoint_row(endpoint_id):
    async with OwnerSession() as session:
        return await session.get(WebhookEndpoint, endpoint_id)


def statuses(rows):
    return [row.status for row in rows]


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setattr(settings, "webhook_retry_base_seconds", 0.01)
    monkeypatch.setattr(settings, "webhook_retry_max_seconds", 0.05)


class TestEmit:
    async def test_one_row_per_subscribed_active_endpoint(self, tenant, other_tenant):
        cid = tenant.company.id
        wanted = [
            await endpoint_for(cid, "https://a.example.com/", events=["phishing.*"]),
            await endpoint_for(cid, "https://b.example.com/", events=["*"]),
            await endpoint_for(cid, "https://c.example.com/", events=["phishing.link_clicked"]),
        ]
        await endpoint_for(cid, "https://d.example.com/", events=["training.*"])
        await endpoint_for(cid, "https://e.example.com/", active=False)
        await endpoint_for(cid, "https://f.example.com/", deleted_at=utcnow())
        await endpoint_for(other_tenant.company.id, "https://g.example.com/")
        await emit_committed(cid, "phishing.link_clicked", {"recipient_id": new_id()})
        rows = await deliveries()
        assert sorted(r.endpoint_id for r in rows) == sorted(e.id for e in wanted)
        assert len({r.event_id for r in rows}) == 1
        payload = rows[0].payload
        assert payload["type"] == "phishing.link_clicked"
        assert payload["company_id"] == str(cid)
        assert isinstance(payload["data"]["recipient_id"], str)  # UUIDs become strings

    async def test_nothing_is_written_when_nobody_listens(self, tenant):
        await endpoint_for(tenant.company.id, "https://a.example.com/", events=["training.*"])
        await emit_committed(tenant.company.id, "report.received", {})
        assert await deliveries() == []

    async def test_nothing_is_written_when_the_caller_rolls_back(self, tenant):
        await endpoint_for(tenant.company.id, "https://a.example.com/")

        async def failing_action() -> None:
            async with unit_of_work() as session:
                await bind_tenant(session, tenant.company.id)
                await emit(session, tenant.company.id, "phishing.email_opened", {})
                raise RuntimeError("the action failed")

        with pytest.raises(RuntimeError):
            await failing_action()
        assert await deliveries() == []

    async def test_the_same_event_id_is_written_once(self, tenant):
        await endpoint_for(tenant.company.id, "https://a.example.com/")
        event_id = new_id()
        for _ in range(2):
            async with unit_of_work() as session:
                await bind_tenant(session, tenant.company.id)
                await emit(session, tenant.company.id, "phishing.email_sent", {}, event_id=event_id)
        assert len(await deliveries()) == 1

    async def test_unknown_event_types_are_a_programming_error(self, tenant):
        async with unit_of_work() as session:
            with pytest.raises(ValueError, match="unknown webhook event type"):
                await emit(session, tenant.company.id, "phishing.typo", {})


class TestDelivery:
    async def test_retries_until_the_receiver_recovers(self, tenant, fast_retries):
        with webhook_receiver(statuses=[500, 503, 200]) as receiver:
            receiver.secret = SECRET
            endpoint = await endpoint_for(tenant.company.id, receiver.url)
            await emit_committed(tenant.company.id, "training.enrollment_completed", {"n": 1})

            async def done() -> bool:
                return statuses(await deliveries()) == [DeliveryStatus.succeeded]

            await drive_until(done)
        [row] = await deliveries()
        assert (row.attempts, row.last_status_code, row.last_error) == (3, 200, None)
        assert [r.signature_ok for r in receiver.received] == [True, True, True]
        assert len({r.headers["vigil-webhook-id"] for r in receiver.received}) == 1
        assert len({r.body for r in receiver.received}) == 1  # the same bytes each time
        after = await endpoint_row(endpoint.id)
        assert (after.consecutive_failures, after.failing_since) == (0, None)
        assert after.last_success_at is not None

    async def test_a_failure_keeps_an_excerpt_and_schedules_a_retry(self, tenant):
        with webhook_receiver(statuses=[500]) as receiver:
            await endpoint_for(tenant.company.id, receiver.url)
            await emit_committed(tenant.company.id, "report.received", {})

            async def failed() -> bool:
                return statuses(await deliveries()) == [DeliveryStatus.failed]

            await drive_until(failed)
        [row] = await deliveries()
        assert row.last_error == "HTTP 500: receiver says no"
        # The first retry waits 30 s ± 25 %.
        assert timedelta(seconds=20) < row.next_attempt_at - row.last_attempt_at
        assert row.next_attempt_at - row.last_attempt_at < timedelta(seconds=40)

    async def test_redirects_are_not_followed(self, tenant):
        with webhook_receiver(statuses=[302]) as receiver:
            await endpoint_for(tenant.company.id, receiver.url)
            await emit_committed(tenant.company.id, "report.received", {})

            async def failed() -> bool:
                return statuses(await deliveries()) == [DeliveryStatus.failed]

            await drive_until(failed)
        assert len(receiver.received) == 1
        assert (await deliveries())[0].last_status_code == 302

    async def test_out_of_attempts_means_abandoned(self, tenant, fast_retries, monkeypatch):
        monkeypatch.setattr(settings, "webhook_max_attempts", 2)
        with webhook_receiver(statuses=[500]) as receiver:
            await endpoint_for(tenant.company.id, receiver.url)
            await emit_committed(tenant.company.id, "report.received", {})

            async def abandoned() -> bool:
                return statuses(await deliveries()) == [DeliveryStatus.abandoned]

            await drive_until(abandoned)
        [row] = await deliveries()
        assert row.attempts == 2
        assert row.completed_at is not None
        assert len(receiver.received) == 2

    def test_backoff_doubles_with_jitter_up_to_the_cap(self):
        assert 22.5 <= retry_delay(1) <= 37.5
        assert 45 <= retry_delay(2) <= 75
        assert retry_delay(40) <= settings.webhook_retry_max_seconds * 1.25


class TestLeases:
    async def _claimed(self, company_id, endpoint_id, lease_until):
        now = utcnow()
        async with OwnerSession() as session:
            row = WebhookDelivery(
                company_id=company_id,
                endpoint_id=endpoint_id,
                event_id=new_id(),
                event_type="report.received",
                payload={"id": "x", "type": "report.received", "data": {}},
                status=DeliveryStatus.delivering,
                attempts=1,
                last_attempt_at=now - timedelta(minutes=5),
                lease_until=lease_until,
                next_attempt_at=lease_until,
            )
            session.add(row)
            await session.commit()
            return row

    async def test_an_expired_lease_is_claimed_again(self, tenant):
        with webhook_receiver() as receiver:
            receiver.secret = SECRET
            endpoint = await endpoint_for(tenant.company.id, receiver.url)
            row = await self._claimed(
                tenant.company.id, endpoint.id, utcnow() - timedelta(seconds=1)
            )

            async def done() -> bool:
                return statuses(await deliveries()) == [DeliveryStatus.succeeded]

            await drive_until(done)
        assert (await deliveries())[0].attempts == 2
        assert [r.headers["vigil-webhook-id"] for r in receiver.received] == [str(row.event_id)]
        assert receiver.received[0].signature_ok

    async def test_a_live_lease_is_left_alone(self, tenant):
        with webhook_receiver() as receiver:
            endpoint = await endpoint_for(tenant.company.id, receiver.url)
            await self._claimed(tenant.company.id, endpoint.id, utcnow() + timedelta(minutes=1))
            for _ in range(3):
                await deliver_due_webhooks()
        assert receiver.received == []
        assert statuses(await deliveries()) == [DeliveryStatus.delivering]

    async def test_a_late_outcome_does_not_overwrite_a_newer_claim(self, tenant):
        """A worker whose lease ran out must not record over the worker that took over."""
        from services.webhook_delivery import Claim, Outcome, _record

        endpoint = await endpoint_for(tenant.company.id, "https://a.example.com/")
        row = await self._claimed(tenant.company.id, endpoint.id, utcnow() + timedelta(minutes=1))
        async with OwnerSession() as session:  # another worker reclaimed it: attempts 2
            await session.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == row.id).values(attempts=2)
            )
            await session.commit()
        stale = Claim(row.id, tenant.company.id, endpoint.id, row.event_id, 1, "", "", b"")
        await _record(stale, Outcome(500, "HTTP 500: late"))
        [after] = await deliveries()
        assert (after.status, after.last_error) == (DeliveryStatus.delivering, None)
        assert (await endpoint_row(endpoint.id)).consecutive_failures == 0


class TestDisabling:
    async def test_consecutive_failures_disable_the_endpoint_and_tell_the_admins(
        self, tenant, fast_retries, monkeypatch
    ):
        monkeypatch.setattr(settings, "webhook_disable_after_failures", 3)
        admin = tenant.admin.email
        before = len(outbox_messages(admin))
        with webhook_receiver(statuses=[500]) as receiver:
            endpoint = await endpoint_for(tenant.company.id, receiver.url)
            await emit_committed(tenant.company.id, "report.received", {})

            async def disabled() -> bool:
                return not (await endpoint_row(endpoint.id)).active

            await drive_until(disabled)

            async def abandoned() -> bool:
                return statuses(await deliveries()) == [DeliveryStatus.abandoned]

            await drive_until(abandoned)
        after = await endpoint_row(endpoint.id)
        assert after.disabled_reason == "3 deliveries in a row failed."
        assert after.disabled_at is not None
        assert len(receiver.received) == 3
        assert (await deliveries())[0].last_error == "The endpoint is disabled."
        messages = outbox_messages(admin)[before:]
        assert [m["Subject"] for m in messages] == ["A webhook endpoint was disabled"]
        assert receiver.url in messages[0].as_string()
        assert outbox_messages(tenant.manager.email) == []
        # Nothing new is queued for a disabled endpoint.
        await emit_committed(tenant.company.id, "report.received", {})
        assert len(await deliveries()) == 1

    async def test_failing_for_too_long_disables_it(self, tenant):
        with webhook_receiver(statuses=[500]) as receiver:
            endpoint = await endpoint_for(
                tenant.company.id,
                receiver.url,
                failing_since=utcnow() - timedelta(hours=settings.webhook_disable_after_hours + 1),
            )
            await emit_committed(tenant.company.id, "report.received", {})

            async def disabled() -> bool:
                return not (await endpoint_row(endpoint.id)).active

            await drive_until(disabled)
        reason = (await endpoint_row(endpoint.id)).disabled_reason
        assert (
            reason == f"Every delivery failed for {settings.webhook_disable_after_hours:g} hours."
        )


class TestSsrfAtDelivery:
    """Endpoints saved while private targets were allowed, delivered once they are not."""

    @pytest.mark.parametrize("host", ["127.0.0.1", "hostname"])
    async def test_no_request_reaches_our_network(self, tenant, monkeypatch, host):
        with webhook_receiver() as receiver:
            url = receiver.url
            if host == "hostname":
                name = socket.gethostname()
                try:
                    found = {str(i[4][0]) for i in socket.getaddrinfo(name, 80)}
                except OSError:
                    pytest.skip("the host name does not resolve")
                if "127.0.0.1" not in found or any(is_public_address(a) for a in found):
                    pytest.skip("the host name does not resolve to loopback only")
                url = url.replace("127.0.0.1", name)
            await endpoint_for(tenant.company.id, url)
            monkeypatch.setattr(settings, "allow_private_network_targets", False)
            await emit_committed(tenant.company.id, "report.received", {})

            async def failed() -> bool:
                return statuses(await deliveries()) == [DeliveryStatus.failed]

            await drive_until(failed)
        assert receiver.received == []
        assert (await deliveries())[0].last_error.startswith("Refused")

    @pytest.mark.parametrize(
        "url", ["http://169.254.169.254/latest/meta-data/", "http://[::ffff:10.0.0.1]/"]
    )
    async def test_internal_literals_are_refused_before_connecting(self, tenant, monkeypatch, url):
        monkeypatch.setattr(settings, "allow_private_network_targets", False)
        await endpoint_for(tenant.company.id, url)
        await emit_committed(tenant.company.id, "report.received", {})

        async def failed() -> bool:
            return statuses(await deliveries()) == [DeliveryStatus.failed]

        await drive_until(failed)
        row = (await deliveries())[0]
        assert row.last_error.startswith("Refused")
        assert row.last_status_code is None


def test_signature_is_hmac_sha256_over_timestamp_and_body():
    import hashlib
    import hmac

    body = b'{"id":"1"}'
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("k", 1700000000, body) == expected


@pytest.mark.postgres_only
class TestWorkerScanPolicy:
    async def test_it_opens_the_queue_for_reading_only_while_on(self, tenant):
        from sqlalchemy import func, select

        from db.scoping import worker_scan

        await endpoint_for(tenant.company.id, "https://a.example.com/")
        await emit_committed(tenant.company.id, "report.received", {})
        count = select(func.count()).select_from(WebhookDelivery)
        async with unit_of_work() as session:
            assert await session.scalar(count) == 0  # no company bound: no rows
        async with unit_of_work() as session, worker_scan(session):
            assert await session.scalar(count) == 1
            assert await session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0
            result = await session.execute(
                update(WebhookDelivery).values(status=DeliveryStatus.abandoned)
            )
            assert result.rowcount == 0  # type: ignore[attr-defined]  # reads only
