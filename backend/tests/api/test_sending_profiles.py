"""Phishing sending profiles: encrypted passwords, a real test send, no internal hosts."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from core.config import settings
from models.sending_profile import SendingProfile
from tests.support.smtp import smtp_test_server

URL = "/api/v1/phishing/sending-profiles"
SECRET = "relay-password-9f8e7d"


def body(**overrides):
    return {
        "name": "Relay",
        "host": "smtp.example.com",
        "port": 587,
        "username": "mailer",
        "password": SECRET,
        "from_address": "IT Service Desk <it@acme-support.example.com>",
        "headers": {"X-Mailer": "Outlook 16.0"},
        **overrides,
    }


async def create(client, auth_headers, **overrides):
    return await client.post(URL, json=body(**overrides), headers=auth_headers)


class TestProfiles:
    async def test_password_is_encrypted_and_never_returned(self, client, session, tenant):
        r = await create(client, tenant.admin_headers)
        assert r.status_code == 201, r.text
        assert SECRET not in r.text
        assert r.json()["has_password"] is True
        row = await session.get(SendingProfile, uuid.UUID(r.json()["id"]))
        assert row.password_encrypted
        assert SECRET not in row.password_encrypted
        listed = await client.get(URL, headers=tenant.admin_headers)
        assert SECRET not in listed.text

    async def test_update_and_remove_password(self, client, tenant):
        pid = (await create(client, tenant.admin_headers)).json()["id"]
        r = await client.patch(
            f"{URL}/{pid}", json={"port": 2525, "password": None}, headers=tenant.admin_headers
        )
        assert r.status_code == 200
        assert (r.json()["port"], r.json()["has_password"]) == (2525, False)

    @pytest.mark.parametrize(
        ("overrides", "status"),
        [
            ({"from_address": "not an address"}, 400),
            ({"port": 70000}, 422),
            ({"headers": {"Subject": "x"}}, 422),
            ({"headers": {"X-Bad": "a\r\nBcc: victim@example.com"}}, 422),
            ({"host": "bad host!"}, 422),
            ({"company_id": str(uuid.uuid4())}, 422),
        ],
    )
    async def test_bad_input_is_refused_and_nothing_saved(
        self, client, session, tenant, overrides, status
    ):
        r = await create(client, tenant.admin_headers, **overrides)
        assert r.status_code == status, r.text
        assert await session.scalar(select(func.count()).select_from(SendingProfile)) == 0

    async def test_internal_hosts_are_refused_in_production(
        self, client, session, tenant, monkeypatch
    ):
        monkeypatch.setattr(settings, "allow_private_network_targets", False)
        for host in ("127.0.0.1", "10.1.2.3", "169.254.169.254", "::ffff:127.0.0.1", "localhost"):
            r = await create(client, tenant.admin_headers, host=host)
            assert r.status_code == 400, host
            assert r.json()["error"]["code"] == "forbidden_smtp_host"
        assert await session.scalar(select(func.count()).select_from(SendingProfile)) == 0

    async def test_a_name_resolving_to_an_internal_address_is_refused_at_send(
        self, client, tenant, monkeypatch
    ):
        # Saved while internal hosts were allowed (as on a developer's laptop) ...
        pid = (await create(client, tenant.admin_headers, host="localhost")).json()["id"]
        # ... then the operator forbids them: the send resolves the name and refuses.
        monkeypatch.setattr(settings, "allow_private_network_targets", False)
        r = await client.post(
            f"{URL}/{pid}/test", json={"to": "me@acme.example.com"}, headers=tenant.admin_headers
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "forbidden_smtp_host"


class TestSendTestMessage:
    async def test_delivers_a_real_message_with_the_profile_sender(self, client, tenant):
        async with smtp_test_server(credentials=("mailer", SECRET)) as smtp:
            pid = (
                await create(
                    client, tenant.admin_headers, host=smtp.host, port=smtp.port, security="none"
                )
            ).json()["id"]
            r = await client.post(
                f"{URL}/{pid}/test",
                json={"to": "me@acme.example.com"},
                headers=tenant.admin_headers,
            )
        assert r.status_code == 200, r.text
        assert r.json()["delivered"] is True
        assert len(smtp.received) == 1
        message = smtp.received[0].message
        assert message["From"] == "IT Service Desk <it@acme-support.example.com>"
        assert smtp.received[0].rcpt_tos == ["me@acme.example.com"]

    async def test_reports_the_server_refusal(self, client, tenant):
        async with smtp_test_server(
            replies={"nobody@acme.example.com": "550 no such user"}
        ) as smtp:
            pid = (
                await create(
                    client,
                    tenant.admin_headers,
                    host=smtp.host,
                    port=smtp.port,
                    security="none",
                    username=None,
                    password=None,
                )
            ).json()["id"]
            r = await client.post(
                f"{URL}/{pid}/test",
                json={"to": "nobody@acme.example.com"},
                headers=tenant.admin_headers,
            )
        assert r.status_code == 200
        assert r.json()["delivered"] is False
        assert "550" in r.json()["server_reply"]

    async def test_wrong_password_is_reported(self, client, tenant):
        async with smtp_test_server(credentials=("mailer", "another")) as smtp:
            pid = (
                await create(
                    client, tenant.admin_headers, host=smtp.host, port=smtp.port, security="none"
                )
            ).json()["id"]
            r = await client.post(
                f"{URL}/{pid}/test",
                json={"to": "me@acme.example.com"},
                headers=tenant.admin_headers,
            )
        assert r.json()["delivered"] is False
        assert "535" in r.json()["server_reply"]


class TestAccess:
    async def test_other_company_gets_404_everywhere(self, client, tenant, other_tenant):
        pid = (await create(client, tenant.admin_headers)).json()["id"]
        h = other_tenant.admin_headers
        assert (await client.get(f"{URL}/{pid}", headers=h)).status_code == 404
        assert (await client.patch(f"{URL}/{pid}", json={"port": 25}, headers=h)).status_code == 404
        assert (await client.delete(f"{URL}/{pid}", headers=h)).status_code == 404
        r = await client.post(f"{URL}/{pid}/test", json={"to": "x@globex.example.com"}, headers=h)
        assert r.status_code == 404
        assert (await client.get(URL, headers=h)).json()["items"] == []

    async def test_manager_and_learner_are_refused(self, client, tenant):
        assert (await client.get(URL, headers=tenant.manager_headers)).status_code == 403
        assert (await create(client, tenant.learner_headers)).status_code == 403
