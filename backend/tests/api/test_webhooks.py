"""Webhook endpoints over the API: secrets shown once, URL checks, roles, other companies."""

from __future__ import annotations

import socket
import uuid

import pytest
from sqlalchemy import func, select

from core.config import settings
from core.crypto import decrypt_secret
from core.network import is_public_address
from models.webhook import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from services.webhook_delivery import SECRET_PURPOSE
from tests.support.webhooks import deliveries, drive_until, webhook_receiver

URL = "/api/v1/webhooks"


def body(**overrides):
    return {
        "url": "https://hooks.acme.example.com/vigil",
        "description": "SIEM",
        "events": ["phishing.*", "training.enrollment_completed"],
        **overrides,
    }


async def create(client, headers, **overrides):
    return await client.post(URL, json=body(**overrides), headers=headers)


async def count(session, model=WebhookEndpoint):
    return await session.scalar(select(func.count()).select_from(model))


def loopback_name() -> str:
    """This machine's name, when it resolves only to non-public addresses (else skip)."""
    name = socket.gethostname()
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(name, 443)}
    except OSError:
        pytest.skip("the host name does not resolve")
    if not addresses or any(is_public_address(a) for a in addresses):
        pytest.skip("the host name resolves to a public address")
    return name


class TestEndpoints:
    async def test_secret_is_shown_once_and_stored_encrypted(self, client, session, tenant):
        r = await create(client, tenant.admin_headers)
        assert r.status_code == 201, r.text
        secret = r.json()["secret"]
        assert secret.startswith("whsec_")
        assert len(secret) > 40
        wid = r.json()["id"]
        for answer in (
            await client.get(f"{URL}/{wid}", headers=tenant.admin_headers),
            await client.get(URL, headers=tenant.admin_headers),
            await client.patch(
                f"{URL}/{wid}", json={"description": "x"}, headers=tenant.admin_headers
            ),
        ):
            assert answer.status_code == 200
            assert secret not in answer.text
            assert "secret" not in answer.json()
        row = await session.get(WebhookEndpoint, uuid.UUID(wid))
        assert secret not in row.secret_encrypted
        assert decrypt_secret(row.secret_encrypted, purpose=SECRET_PURPOSE) == secret

    async def test_rotate_gives_a_new_secret_once(self, client, session, tenant):
        first = (await create(client, tenant.admin_headers)).json()
        r = await client.post(f"{URL}/{first['id']}/rotate-secret", headers=tenant.admin_headers)
        assert r.status_code == 200
        second = r.json()["secret"]
        assert second != first["secret"]
        row = await session.get(WebhookEndpoint, uuid.UUID(first["id"]))
        assert decrypt_secret(row.secret_encrypted, purpose=SECRET_PURPOSE) == second

    async def test_events_are_deduplicated_and_patterns_accepted(self, client, tenant):
        r = await create(client, tenant.admin_headers, events=["*", "report.*", "report.*"])
        assert r.status_code == 201
        assert r.json()["events"] == ["*", "report.*"]

    async def test_reenabling_clears_the_failures(self, client, session, tenant):
        wid = (await create(client, tenant.admin_headers)).json()["id"]
        row = await session.get(WebhookEndpoint, uuid.UUID(wid))
        row.active, row.consecutive_failures, row.disabled_reason = False, 15, "15 failed."
        await session.commit()
        r = await client.patch(f"{URL}/{wid}", json={"active": True}, headers=tenant.admin_headers)
        assert r.status_code == 200
        got = r.json()
        assert (got["active"], got["consecutive_failures"], got["disabled_reason"]) == (
            True,
            0,
            None,
        )

    async def test_disabling_by_hand_says_so(self, client, tenant):
        wid = (await create(client, tenant.admin_headers)).json()["id"]
        r = await client.patch(f"{URL}/{wid}", json={"active": False}, headers=tenant.admin_headers)
        assert r.json()["active"] is False
        assert r.json()["disabled_reason"] == "Disabled by an admin."
        r = await client.post(f"{URL}/{wid}/test", headers=tenant.admin_headers)
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "webhook_disabled"

    async def test_delete(self, client, tenant):
        wid = (await create(client, tenant.admin_headers)).json()["id"]
        r = await client.delete(f"{URL}/{wid}", headers=tenant.admin_headers)
        assert r.status_code == 204
        r = await client.get(f"{URL}/{wid}", headers=tenant.admin_headers)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "webhook_not_found"


class TestTestEvent:
    async def test_a_test_event_arrives_signed(self, client, tenant):
        with webhook_receiver() as receiver:
            created = (await create(client, tenant.admin_headers, url=receiver.url)).json()
            receiver.secret = created["secret"]
            r = await client.post(f"{URL}/{created['id']}/test", headers=tenant.admin_headers)
            assert r.status_code == 202, r.text
            assert r.json()["event_type"] == "webhook.test"

            async def done() -> bool:
                return [d.status for d in await deliveries()] == [DeliveryStatus.succeeded]

            await drive_until(done)
        [got] = receiver.received
        assert got.signature_ok
        assert got.path == "/hooks/vigil"
        assert got.headers["content-type"] == "application/json"
        envelope = got.json
        assert set(envelope) == {"id", "type", "created_at", "company_id", "data"}
        assert envelope["type"] == "webhook.test"
        assert envelope["company_id"] == str(tenant.company.id)
        assert got.headers["vigil-webhook-id"] == envelope["id"]
        assert got.headers["vigil-webhook-timestamp"] in got.headers["vigil-signature"]

        r = await client.get(f"{URL}/{created['id']}/deliveries", headers=tenant.admin_headers)
        [listed] = r.json()["items"]
        assert (listed["status"], listed["attempts"], listed["last_status_code"]) == (
            "succeeded",
            1,
            200,
        )
        r = await client.get(
            f"{URL}/{created['id']}/deliveries",
            params={"status": "failed"},
            headers=tenant.admin_headers,
        )
        assert r.json()["items"] == []


class TestBadInput:
    @pytest.mark.parametrize(
        ("overrides", "code"),
        [
            ({"events": ["phishing.nonsense"]}, "validation_error"),
            ({"events": []}, "validation_error"),
            ({"events": ["webhook.test"]}, "validation_error"),
            ({"url": "ftp://hooks.acme.example.com/x"}, "invalid_webhook_url"),
            ({"url": "https://user:pw@hooks.acme.example.com/"}, "invalid_webhook_url"),
            ({"url": "https://hooks.acme.example.com:99999/"}, "invalid_webhook_url"),
            ({"url": "not a url at all"}, "invalid_webhook_url"),
            ({"url": "https://x.example.com/" + "a" * 2000}, "validation_error"),
            ({"company_id": str(uuid.uuid4())}, "validation_error"),
        ],
    )
    async def test_refused_with_422_and_nothing_saved(
        self, client, session, tenant, overrides, code
    ):
        r = await create(client, tenant.admin_headers, **overrides)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == code
        assert await count(session) == 0

    async def test_bad_status_filter_and_cursor(self, client, tenant):
        wid = (await create(client, tenant.admin_headers)).json()["id"]
        r = await client.get(
            f"{URL}/{wid}/deliveries", params={"status": "lost"}, headers=tenant.admin_headers
        )
        assert r.status_code == 422
        r = await client.get(
            f"{URL}/{wid}/deliveries", params={"cursor": "garbage"}, headers=tenant.admin_headers
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "invalid_cursor"


class TestSsrfAtSave:
    @pytest.fixture(autouse=True)
    def _production_rules(self, monkeypatch):
        monkeypatch.setattr(settings, "allow_private_network_targets", False)

    @pytest.mark.parametrize(
        "url",
        [
            "https://127.0.0.1/hooks",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::ffff:10.0.0.1]/",
            "https://[::1]:8443/",
            "https://10.1.2.3/",
            "https://localhost/",
            "https://LOCALHOST./",
        ],
    )
    async def test_internal_addresses_are_refused(self, client, session, tenant, url):
        r = await create(client, tenant.admin_headers, url=url)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "webhook_url_refused"
        assert await count(session) == 0

    async def test_a_name_that_resolves_to_our_network_is_refused(self, client, tenant):
        r = await create(client, tenant.admin_headers, url=f"https://{loopback_name()}/hooks")
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "webhook_url_refused"

    async def test_http_is_refused_when_private_targets_are(self, client, tenant):
        r = await create(client, tenant.admin_headers, url="http://hooks.acme.example.com/")
        assert r.status_code == 422
        assert r.json()["error"]["message"] == "The URL must use https."

    async def test_a_patch_to_an_internal_address_changes_nothing(self, client, session, tenant):
        wid = (await create(client, tenant.admin_headers)).json()["id"]
        r = await client.patch(
            f"{URL}/{wid}", json={"url": "https://192.168.0.1/"}, headers=tenant.admin_headers
        )
        assert r.status_code == 422
        row = await session.get(WebhookEndpoint, uuid.UUID(wid))
        assert row.url == "https://hooks.acme.example.com/vigil"


class TestAccess:
    async def test_managers_and_learners_are_refused(self, client, tenant):
        for headers in (tenant.manager_headers, tenant.learner_headers):
            assert (await client.get(URL, headers=headers)).status_code == 403
            assert (await create(client, headers)).status_code == 403

    async def test_other_company_webhook_returns_404(self, client, session, tenant, other_tenant):
        wid = (await create(client, tenant.admin_headers)).json()["id"]
        theirs = other_tenant.admin_headers
        for method, path in (
            ("GET", f"{URL}/{wid}"),
            ("PATCH", f"{URL}/{wid}"),
            ("DELETE", f"{URL}/{wid}"),
            ("POST", f"{URL}/{wid}/rotate-secret"),
            ("POST", f"{URL}/{wid}/test"),
            ("GET", f"{URL}/{wid}/deliveries"),
        ):
            json = {"description": "mine now"} if method == "PATCH" else None
            r = await client.request(method, path, json=json, headers=theirs)
            assert r.status_code == 404, (method, path)
        assert (await client.get(URL, headers=theirs)).json()["items"] == []
        row = await session.get(WebhookEndpoint, uuid.UUID(wid))
        assert (row.deleted_at, row.description) == (None, "SIEM")
        assert await count(session, WebhookDelivery) == 0
