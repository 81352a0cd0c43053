"""WS /phishing/campaigns/{id}/live against a real uvicorn server on loopback, with the
`websockets` client: who may watch, what they receive, and how the stream ends."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from core.config import settings
from core.security import create_access_token
from models.api_key import ApiKeyScope
from models.phishing_event import EventType
from services.live import RedisLiveHub, live_hub
from services.phishing_events import EventView, announce
from tests.api.test_tracking import BROWSER, sent_campaign
from tests.factories import make_api_key
from tests.support.live import LoopbackServer, eventually
from tests.support.phishing import make_campaign_for

LIVE = "/api/v1/phishing/campaigns/{}/live"


def live_url(server: LoopbackServer, campaign_id: object) -> str:
    return server.ws_url(LIVE.format(campaign_id))


def watch(server: LoopbackServer, campaign_id: object, headers: dict[str, str] | None = None):
    """A client connection to the campaign's stream (`async with`)."""
    return connect(live_url(server, campaign_id), additional_headers=headers or {})


@pytest.fixture
async def live(app) -> AsyncIterator[LoopbackServer]:
    server = LoopbackServer(app)
    await server.start()
    yield server
    await server.stop()


async def new_campaign(client, tenant, name: str = "Q4 password lure") -> str:
    created = await make_campaign_for(
        client, tenant.admin_headers, [str(tenant.learner.id)], name=name
    )
    return str(created["id"])


def event_of(tenant, campaign_id: str, kind: EventType = EventType.clicked) -> EventView:
    return EventView(
        id=uuid.uuid4(),
        company_id=tenant.company.id,
        campaign_id=uuid.UUID(campaign_id),
        recipient_id=uuid.uuid4(),
        type=kind,
        occurred_at=datetime.now(UTC),
        automated=False,
        automation_reason=None,
        first=True,
    )


async def receive(ws: ClientConnection, within: float = 5.0) -> dict[str, Any]:
    async with asyncio.timeout(within):
        message: dict[str, Any] = orjson.loads(await ws.recv())
    return message


async def closed_with(ws: ClientConnection) -> tuple[int, str]:
    """The close code and reason, once the server closes; fails on any data before it."""
    with pytest.raises(ConnectionClosed) as closed:
        await receive(ws)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def until_closed(ws: ClientConnection) -> tuple[list[str], int, str]:
    """The types of the messages received until the server closes, and its close."""
    kinds = []
    try:
        while True:
            kinds.append((await receive(ws))["type"])
    except ConnectionClosed as closed:
        close = closed.rcvd
    assert close is not None
    return kinds, close.code, close.reason


async def nothing_more(ws: ClientConnection, seconds: float = 0.3) -> None:
    with pytest.raises(TimeoutError):
        await receive(ws, within=seconds)


class TestWatching:
    async def test_admin_receives_events_of_their_campaign_only(self, client, live, tenant):
        watched = await new_campaign(client, tenant)
        other = await new_campaign(client, tenant, name="Other")
        async with watch(live, watched, tenant.admin_headers) as ws:
            hello = await receive(ws)
            assert hello["type"] == "hello"
            assert hello["campaign"] == {
                "id": watched,
                "name": "Q4 password lure",
                "status": "draft",
            }
            assert hello["heartbeat_seconds"] == settings.live_heartbeat_seconds

            theirs, mine = event_of(tenant, other), event_of(tenant, watched, EventType.opened)
            await announce([theirs, mine])
            message = await receive(ws)
            assert message == {"type": "event", "event": orjson.loads(orjson.dumps(mine.as_dict()))}
            await nothing_more(ws)

    async def test_each_event_of_a_batch_is_one_message_in_order(self, client, live, tenant):
        campaign = await new_campaign(client, tenant)
        batch = [event_of(tenant, campaign, kind) for kind in EventType]
        async with watch(live, campaign, tenant.admin_headers) as ws:
            await receive(ws)
            await announce(batch)
            got = [(await receive(ws))["event"]["id"] for _ in batch]
        assert got == [str(e.id) for e in batch]

    async def test_every_watcher_receives_each_event(self, client, live, tenant):
        campaign = await new_campaign(client, tenant)
        address = live_url(live, campaign)
        async with (
            connect(address, additional_headers=tenant.admin_headers) as first,
            connect(address, additional_headers=tenant.admin_headers) as second,
        ):
            await receive(first), await receive(second)
            event = event_of(tenant, campaign)
            await announce([event])
            for ws in (first, second):
                assert (await receive(ws))["event"]["id"] == str(event.id)

    async def test_a_browser_passes_its_token_as_a_subprotocol(self, client, live, tenant):
        campaign = await new_campaign(client, tenant)
        token = tenant.admin_headers["Authorization"].removeprefix("Bearer ")
        offered = [Subprotocol("vigil.v1"), Subprotocol(f"bearer.{token}")]
        async with connect(live_url(live, campaign), subprotocols=offered) as ws:
            assert ws.subprotocol == "vigil.v1"  # never the token
            assert (await receive(ws))["type"] == "hello"

    async def test_a_read_only_api_key_of_the_company_may_watch(
        self, client, live, session, tenant
    ):
        campaign = await new_campaign(client, tenant)
        _, secret = await make_api_key(session, tenant.company, scope=ApiKeyScope.read)
        await session.commit()
        headers = {"Authorization": f"Bearer {secret}"}
        async with watch(live, campaign, headers) as ws:
            assert (await receive(ws))["type"] == "hello"

    async def test_heartbeats_keep_coming(self, client, live, tenant, monkeypatch):
        monkeypatch.setattr(settings, "live_heartbeat_seconds", 0.1)
        campaign = await new_campaign(client, tenant)
        async with watch(live, campaign, tenant.admin_headers) as ws:
            await receive(ws)
            assert [(await receive(ws))["type"] for _ in range(3)] == ["heartbeat"] * 3


class TestWithTrackingLinks:
    async def test_a_recipients_clicks_reach_the_watcher_as_they_happen(
        self, client, live, session, tenant
    ):
        created, rows = await sent_campaign(client, session, tenant, n=1)
        recipient = rows[0]
        async with (
            watch(live, created["id"], tenant.admin_headers) as ws,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{live.port}") as http,
        ):
            await receive(ws)
            for _ in range(2):
                r = await http.get(f"/t/c/{recipient.token}", headers={"User-Agent": BROWSER})
                assert r.status_code == 200
            got = [(await receive(ws))["event"] for _ in range(2)]
        assert [(e["type"], e["first"], e["automated"]) for e in got] == [
            ("clicked", True, False),
            ("clicked", False, False),  # a repeat: kept, counted once
        ]
        assert {e["recipient_id"] for e in got} == {str(recipient.id)}
        assert {e["campaign_id"] for e in got} == {created["id"]}


class TestRefused:
    """A refused client is accepted and closed at once, with no data."""

    async def test_another_companys_admin_gets_4404(self, client, live, tenant, other_tenant):
        campaign = await new_campaign(client, tenant)
        async with watch(live, campaign, other_tenant.admin_headers) as ws:
            assert await closed_with(ws) == (4404, "campaign_not_found")

    async def test_another_companys_api_key_gets_4404(
        self, client, live, session, tenant, other_tenant
    ):
        campaign = await new_campaign(client, tenant)
        _, secret = await make_api_key(session, other_tenant.company)
        await session.commit()
        headers = {"Authorization": f"Bearer {secret}"}
        async with watch(live, campaign, headers) as ws:
            assert await closed_with(ws) == (4404, "campaign_not_found")

    @pytest.mark.parametrize("role", ["learner", "manager"])
    async def test_a_role_without_phishing_manage_gets_4403(self, client, live, tenant, role):
        campaign = await new_campaign(client, tenant)
        headers = getattr(tenant, f"{role}_headers")
        async with watch(live, campaign, headers) as ws:
            assert await closed_with(ws) == (4403, "permission_denied")

    async def test_an_expired_token_gets_4401(self, client, live, tenant):
        campaign = await new_campaign(client, tenant)
        admin = tenant.admin
        token, _ = create_access_token(
            admin.id, admin.company_id, uuid.uuid4(), now=datetime.now(UTC) - timedelta(hours=2)
        )
        headers = {"Authorization": f"Bearer {token}"}
        async with watch(live, campaign, headers) as ws:
            assert await closed_with(ws) == (4401, "invalid_token")

    @pytest.mark.parametrize(
        "headers",
        [{}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Bearer vk_forged"}],
        ids=["none", "garbage", "unknown-key"],
    )
    async def test_no_valid_credential_gets_4401(self, client, live, tenant, headers):
        campaign = await new_campaign(client, tenant)
        async with watch(live, campaign, headers) as ws:
            assert await closed_with(ws) == (4401, "invalid_token")

    async def test_a_token_in_the_url_is_ignored(self, client, live, tenant):
        campaign = await new_campaign(client, tenant)
        token = tenant.admin_headers["Authorization"].removeprefix("Bearer ")
        async with connect(f"{live_url(live, campaign)}?token={token}") as ws:
            assert await closed_with(ws) == (4401, "invalid_token")

    @pytest.mark.parametrize("campaign_id", [str(uuid.uuid4()), "not-a-uuid"])
    async def test_an_unknown_campaign_gets_4404(self, live, tenant, campaign_id):
        async with watch(live, campaign_id, tenant.admin_headers) as ws:
            assert await closed_with(ws) == (4404, "campaign_not_found")


class TestEnding:
    async def test_a_token_that_expires_while_watching_ends_the_stream(
        self, client, live, tenant, monkeypatch
    ):
        monkeypatch.setattr(settings, "live_heartbeat_seconds", 0.2)
        campaign = await new_campaign(client, tenant)
        lifetime = timedelta(minutes=settings.access_token_minutes)
        issued = datetime.now(UTC) - lifetime + timedelta(seconds=1.5)
        admin = tenant.admin
        token, _ = create_access_token(admin.id, admin.company_id, uuid.uuid4(), now=issued)
        headers = {"Authorization": f"Bearer {token}"}
        async with watch(live, campaign, headers) as ws:
            assert (await receive(ws))["type"] == "hello"
            kinds, code, reason = await until_closed(ws)
        assert set(kinds) <= {"heartbeat"}
        assert (code, reason) == (4401, "invalid_token")

    async def test_revoking_the_api_key_ends_the_stream(
        self, client, live, session, tenant, monkeypatch
    ):
        monkeypatch.setattr(settings, "live_heartbeat_seconds", 0.2)
        campaign = await new_campaign(client, tenant)
        key, secret = await make_api_key(session, tenant.company)
        await session.commit()
        async with watch(live, campaign, {"Authorization": f"Bearer {secret}"}) as ws:
            assert (await receive(ws))["type"] == "hello"
            r = await client.delete(f"/api/v1/api-keys/{key.id}", headers=tenant.admin_headers)
            assert r.status_code == 204
            kinds, code, reason = await until_closed(ws)
        assert set(kinds) <= {"heartbeat"}
        assert (code, reason) == (4401, "invalid_token")

    async def test_a_client_that_falls_behind_is_disconnected_with_4429(
        self, client, live, tenant, monkeypatch
    ):
        monkeypatch.setattr(live_hub, "_buffer", 5)
        campaign = await new_campaign(client, tenant)
        async with watch(live, campaign, tenant.admin_headers) as ws:
            await receive(ws)
            # More than the buffer at once, before the connection's sender can take any.
            for n in range(6):
                live_hub._deliver(uuid.UUID(campaign), f'{{"type": "event", "n": {n}}}')
            assert await closed_with(ws) == (4429, "lagging")
        await wait_until_unwatched(uuid.UUID(campaign))

    async def test_leaving_unsubscribes(self, client, live, tenant):
        campaign = uuid.UUID(await new_campaign(client, tenant))
        async with watch(live, campaign, tenant.admin_headers) as ws:
            await receive(ws)
            assert live_hub.subscriber_count(campaign) == 1
            metrics = (await client.get("/metrics")).text
            assert "vigil_live_subscribers 1.0" in metrics
        await wait_until_unwatched(campaign)

    async def test_shutdown_closes_with_1012(self, app, client, tenant):
        server = LoopbackServer(app)
        await server.start()
        campaign = await new_campaign(client, tenant)
        try:
            async with watch(server, campaign, tenant.admin_headers) as ws:
                await receive(ws)
                server.begin_shutdown()
                code, _ = await closed_with(ws)
        finally:
            await server.stop()
        assert code == 1012  # service restart: reconnect to another replica
        await wait_until_unwatched(uuid.UUID(campaign))


async def wait_until_unwatched(campaign_id: uuid.UUID) -> None:
    await eventually(lambda: live_hub.subscriber_count(campaign_id) == 0)


@pytest.mark.skipif(not settings.redis_url, reason="needs Redis (set VIGIL_TEST_REDIS_URL)")
class TestAcrossProcesses:
    async def test_an_event_published_by_another_hub_reaches_this_servers_client(
        self, client, live, tenant
    ):
        assert isinstance(live_hub, RedisLiveHub)
        other_process = RedisLiveHub(settings.redis_url or "", settings.redis_key_prefix, buffer=10)
        campaign = await new_campaign(client, tenant)
        try:
            async with watch(live, campaign, tenant.admin_headers) as ws:
                await receive(ws)
                other_process.publish(uuid.UUID(campaign), {"type": "event", "event": {"n": 1}})
                assert await receive(ws) == {"type": "event", "event": {"n": 1}}
        finally:
            await other_process.close()
