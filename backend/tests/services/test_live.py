"""The live hub: in-process fan-out, bounded subscribers, and Redis pub/sub across hubs
(two hub instances stand for two API processes)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import orjson
import pytest
from redis.asyncio import Redis

from core.config import settings
from models.phishing_event import EventType
from services.live import EndReason, LiveHub, RedisLiveHub, Subscription, live_hub
from services.phishing_events import EventView, announce
from tests.support.live import eventually

needs_redis = pytest.mark.skipif(
    not settings.redis_url, reason="needs Redis (set VIGIL_TEST_REDIS_URL)"
)


async def next_message(subscription: Subscription) -> dict:
    async with asyncio.timeout(5):
        return orjson.loads(await anext(subscription))


def view(campaign_id: uuid.UUID) -> EventView:
    return EventView(
        id=uuid.uuid4(),
        company_id=uuid.uuid4(),
        campaign_id=campaign_id,
        recipient_id=uuid.uuid4(),
        type=EventType.submitted,
        occurred_at=datetime.now(UTC),
        automated=False,
        automation_reason=None,
        first=True,
    )


class TestLiveHub:
    async def test_a_subscriber_gets_its_campaigns_messages_only(self):
        hub = LiveHub(buffer=10)
        mine, other = uuid.uuid4(), uuid.uuid4()
        async with hub.subscribe(mine) as subscription:
            hub.publish(other, {"n": 0})
            hub.publish(mine, {"n": 1})
            assert await next_message(subscription) == {"n": 1}
            assert not subscription._pending

    async def test_one_that_falls_behind_is_ended_not_buffered_without_limit(self):
        hub = LiveHub(buffer=3)
        campaign = uuid.uuid4()
        async with hub.subscribe(campaign) as slow, hub.subscribe(campaign) as quick:
            for n in range(3):
                hub.publish(campaign, {"n": n})
            assert await next_message(quick) == {"n": 0}
            hub.publish(campaign, {"n": 3})  # the fourth waiting message for `slow`
            assert slow.end_reason is EndReason.lagging
            assert len(slow._pending) == 0
            assert [m async for m in slow] == []
            assert quick.end_reason is None
            assert [await next_message(quick) for _ in range(3)] == [{"n": n} for n in (1, 2, 3)]

    async def test_leaving_forgets_the_subscriber(self):
        hub = LiveHub(buffer=3)
        campaign = uuid.uuid4()
        async with hub.subscribe(campaign):
            assert hub.subscriber_count(campaign) == 1
        assert hub.subscriber_count(campaign) == 0
        assert hub._subscribers == {}

    async def test_close_ends_every_subscription(self):
        hub = LiveHub(buffer=3)
        async with hub.subscribe(uuid.uuid4()) as a, hub.subscribe(uuid.uuid4()) as b:
            waiting = asyncio.create_task(anext(a))
            await asyncio.sleep(0)
            await hub.close()
            with pytest.raises(StopAsyncIteration):
                await waiting
            assert (a.end_reason, b.end_reason) == (EndReason.closed, EndReason.closed)


class TestPublishingEvents:
    async def test_each_committed_event_goes_to_its_campaigns_channel(self):
        campaign = uuid.uuid4()
        events = [view(campaign), view(uuid.uuid4()), view(campaign)]
        async with live_hub.subscribe(campaign) as subscription:
            await announce(events)
            got = [await next_message(subscription) for _ in range(2)]
        assert got == [
            {"type": "event", "event": orjson.loads(orjson.dumps(e.as_dict()))}
            for e in (events[0], events[2])
        ]

    async def test_an_unreachable_redis_never_holds_up_or_fails_the_publisher(self):
        hub = RedisLiveHub("redis://127.0.0.1:1/0", "vigil-test:", buffer=10)
        try:
            loop = asyncio.get_running_loop()
            started = loop.time()
            hub.publish(uuid.uuid4(), {"n": 1})  # returns at once; sending is in the background
            assert loop.time() - started < 0.05
            await eventually(lambda: hub.dropped == 1)
        finally:
            await hub.close()


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url or "")
    yield client
    await client.aclose()


async def subscriber_counts(redis: Redis, hub: RedisLiveHub, *campaigns: uuid.UUID) -> list[int]:
    counts = await redis.pubsub_numsub(*(hub.channel(c) for c in campaigns))
    return [int(n) for _, n in counts]


@needs_redis
class TestRedisLiveHub:
    @pytest.fixture
    async def hubs(self) -> AsyncIterator[tuple[RedisLiveHub, RedisLiveHub]]:
        # Two API processes: each its own hub, the same Redis and prefix.
        prefix = f"{settings.redis_key_prefix}{uuid.uuid4().hex[:6]}:"
        made = (
            RedisLiveHub(settings.redis_url or "", prefix, buffer=10),
            RedisLiveHub(settings.redis_url or "", prefix, buffer=10),
        )
        yield made
        for hub in made:
            await hub.close()

    async def test_a_message_published_in_one_hub_reaches_a_subscriber_of_another(self, hubs):
        publisher, watcher = hubs
        campaign = uuid.uuid4()
        async with watcher.subscribe(campaign) as subscription:
            publisher.publish(uuid.uuid4(), {"n": 0})
            publisher.publish(campaign, {"n": 1})
            assert await next_message(subscription) == {"n": 1}
            await asyncio.sleep(0.1)
            assert not subscription._pending

    async def test_channels_carry_the_key_prefix(self, hubs):
        campaign = uuid.uuid4()
        assert hubs[0].channel(campaign).startswith(settings.redis_key_prefix)
        assert hubs[0].channel(campaign).endswith(f"live:campaign:{campaign}")

    async def test_one_subscribing_connection_per_process_and_only_while_watched(self, hubs, redis):
        _, watcher = hubs
        a, b = uuid.uuid4(), uuid.uuid4()
        async with watcher.subscribe(a), watcher.subscribe(a), watcher.subscribe(b):
            assert await subscriber_counts(redis, watcher, a, b) == [1, 1]
            async with watcher.subscribe(a):
                assert await subscriber_counts(redis, watcher, a) == [1]
        # Unsubscribed once nobody here watches; the confirmation is read by the hub.
        await asyncio.sleep(0.1)
        assert await subscriber_counts(redis, watcher, a, b) == [0, 0]

    async def test_losing_the_connection_ends_subscriptions_and_the_next_one_reconnects(
        self, hubs, redis
    ):
        publisher, watcher = hubs
        campaign = uuid.uuid4()
        async with watcher.subscribe(campaign) as subscription:
            name = RedisLiveHub.connection_name(
                watcher._channel_prefix.removesuffix("live:campaign:")
            )
            clients = await redis.client_list()
            (mine,) = [c for c in clients if c.get("name") == name]
            await redis.client_kill_filter(_id=mine["id"])
            async with asyncio.timeout(5):
                assert [m async for m in subscription] == []
            assert subscription.end_reason is EndReason.interrupted
        async with watcher.subscribe(campaign) as again:
            publisher.publish(campaign, {"n": 2})
            assert await next_message(again) == {"n": 2}
