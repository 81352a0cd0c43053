"""The live stream of a campaign's events: a hub that fans messages out to subscribers.

`publish(campaign_id, payload)` sends a JSON message to everyone watching that campaign;
`subscribe(campaign_id)` is an async context manager that yields a `Subscription`, an
async iterator of the messages (JSON text) that arrive while it is open. Subscribing is a
context manager rather than a bare iterator so that the subscription is in place before
the caller says hello to its client (no event falls between the two) and is always
removed again.

Two hubs, chosen by settings like the cache:
- `LiveHub`, in-process (default): one API process sees only the events it records.
- `RedisLiveHub` (`VIGIL_REDIS_URL` set): each event goes to a Redis pub/sub channel per
  campaign, `{redis_key_prefix}live:campaign:{id}`, so every API process delivers the
  events any process records. Each process holds one subscribing connection, shared by all
  its clients, and is subscribed only to the campaigns its clients watch.

A listener registered with `phishing_events.on_event` publishes every committed event, so
importing this module (the API does, through its routes) is what switches the stream on.
Publishing never waits on the network: the Redis hub queues messages and a background task
sends them in pipelined batches, so neither a slow Redis nor a failing one slows down or
breaks the request that recorded the event.

The stream is a live view, not the record: events are durable in the database and
`GET /phishing/campaigns/{id}/events` reads them. Where the stream cannot deliver every
event, it ends the subscription instead of skipping events silently:
- a subscriber that falls `live_buffer_events` messages behind is ended (`lagging`): memory
  stays bounded and the client knows to re-read what it missed;
- when the Redis connection is lost, every subscription of that process is ended
  (`interrupted`);
- `close()` (shutdown) ends them all (`closed`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from enum import StrEnum
from typing import Any

import orjson
from loguru import logger
from prometheus_client import Gauge
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from core.config import Settings, settings
from core.monitoring import registry
from services.phishing_events import EventView, on_event

# Messages the Redis hub holds for sending at most; past this (Redis down or far too slow)
# new messages are dropped and counted, never buffered without limit.
PUBLISH_BACKLOG = 10_000
PUBLISH_BATCH = 500
# How long a new subscriber waits for Redis to confirm its channel subscription.
SUBSCRIBE_TIMEOUT = 5.0
# The reader wakes at least this often, so Redis health checks run on an idle connection.
READ_TIMEOUT = 5.0


class EndReason(StrEnum):
    lagging = "lagging"  # the subscriber fell too far behind; messages were dropped
    interrupted = "interrupted"  # the hub lost its Redis connection
    closed = "closed"  # the hub was closed (the process is shutting down)


class LiveUnavailable(Exception):
    """The hub could not subscribe (Redis is unreachable)."""


def encode(payload: Mapping[str, Any]) -> str:
    return orjson.dumps(payload).decode()


class Subscription:
    """One subscriber's messages for one campaign, bounded to `limit` waiting ones.

    Iterating yields JSON text until the subscription ends; `end_reason` then says why."""

    def __init__(self, campaign_id: uuid.UUID, limit: int) -> None:
        self.campaign_id = campaign_id
        self.end_reason: EndReason | None = None
        self._limit = limit
        self._pending: deque[str] = deque()
        self._wakeup = asyncio.Event()

    def push(self, message: str) -> None:
        if self.end_reason is not None:
            return
        if len(self._pending) >= self._limit:
            self.end(EndReason.lagging)
            return
        self._pending.append(message)
        self._wakeup.set()

    def end(self, reason: EndReason) -> None:
        if self.end_reason is None:
            self.end_reason = reason
        self._pending.clear()
        self._wakeup.set()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> str:
        # Cancelling this wait (a heartbeat timer) loses nothing: a message is only taken
        # off the queue once it is returned.
        while True:
            if self.end_reason is not None:
                raise StopAsyncIteration
            if self._pending:
                return self._pending.popleft()
            self._wakeup.clear()
            await self._wakeup.wait()


class LiveHub:
    """In-process fan-out: what this process publishes reaches this process's subscribers."""

    def __init__(self, *, buffer: int) -> None:
        self._buffer = buffer
        self._subscribers: dict[uuid.UUID, set[Subscription]] = {}

    def publish(self, campaign_id: uuid.UUID, payload: Mapping[str, Any]) -> None:
        """Send `payload` to everyone watching `campaign_id`; never waits, never raises for
        a slow subscriber."""
        self._deliver(campaign_id, encode(payload))

    @asynccontextmanager
    async def subscribe(self, campaign_id: uuid.UUID) -> AsyncIterator[Subscription]:
        subscription = Subscription(campaign_id, self._buffer)
        self._subscribers.setdefault(campaign_id, set()).add(subscription)
        try:
            await self._listen(campaign_id)
            yield subscription
        finally:
            watching = self._subscribers.get(campaign_id)
            if watching is not None:
                watching.discard(subscription)
                if not watching:
                    del self._subscribers[campaign_id]
                    await self._unlisten(campaign_id)

    def wants(self, campaign_id: uuid.UUID) -> bool:
        """Whether a message for `campaign_id` can reach anyone (here: a subscriber of this
        process), so publishers can skip building it."""
        return campaign_id in self._subscribers

    def subscriber_count(self, campaign_id: uuid.UUID | None = None) -> int:
        """Subscriptions open for `campaign_id`, or for every campaign."""
        if campaign_id is None:
            return sum(len(s) for s in self._subscribers.values())
        return len(self._subscribers.get(campaign_id, ()))

    async def close(self) -> None:
        self._end_all(EndReason.closed)

    def _deliver(self, campaign_id: uuid.UUID, message: str) -> None:
        for subscription in self._subscribers.get(campaign_id, ()):
            subscription.push(message)

    def _end_all(self, reason: EndReason) -> None:
        for subscriptions in self._subscribers.values():
            for subscription in subscriptions:
                subscription.end(reason)

    async def _listen(self, campaign_id: uuid.UUID) -> None:
        """Hook: make sure messages of `campaign_id` reach this process."""

    async def _unlisten(self, campaign_id: uuid.UUID) -> None:
        """Hook: nobody here watches `campaign_id` any more."""


class RedisLiveHub(LiveHub):
    """Fan-out across processes through Redis pub/sub, one channel per campaign."""

    def __init__(self, url: str, prefix: str, *, buffer: int) -> None:
        super().__init__(buffer=buffer)
        self._channel_prefix = f"{prefix}live:campaign:"
        self._publisher: Redis = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        # No silent reconnects on the subscribing connection: messages sent while it was
        # down are gone, so its subscribers must be told (`interrupted`) rather than resumed.
        self._subscriber: Redis = Redis.from_url(
            url,
            socket_connect_timeout=5,
            health_check_interval=30,
            retry=Retry(NoBackoff(), 0),
            client_name=self.connection_name(prefix),
        )
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._confirmed: dict[str, asyncio.Event] = {}
        self._commands = asyncio.Lock()  # SUBSCRIBE and UNSUBSCRIBE go out in order
        self._backlog: deque[tuple[str, str]] = deque()
        self._backlog_ready = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self.dropped = 0

    @staticmethod
    def connection_name(prefix: str) -> str:
        """The subscribing connection's name in Redis's CLIENT LIST."""
        return f"{prefix}live"

    def channel(self, campaign_id: uuid.UUID) -> str:
        return f"{self._channel_prefix}{campaign_id}"

    def wants(self, campaign_id: uuid.UUID) -> bool:  # noqa: ARG002
        return True  # subscribers of other processes listen through Redis

    def publish(self, campaign_id: uuid.UUID, payload: Mapping[str, Any]) -> None:
        if len(self._backlog) >= PUBLISH_BACKLOG:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                logger.warning("live stream: Redis backlog full, {} messages dropped", self.dropped)
            return
        self._backlog.append((self.channel(campaign_id), encode(payload)))
        self._backlog_ready.set()
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send_backlog())

    async def close(self) -> None:
        for task in (self._sender, self._reader):
            if task is not None:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
        self._sender = self._reader = None
        await self._drop_pubsub(EndReason.closed)
        self._end_all(EndReason.closed)
        await self._publisher.aclose()
        await self._subscriber.aclose()

    # --- publishing ------------------------------------------------------------------

    async def _send_backlog(self) -> None:
        while True:
            await self._backlog_ready.wait()
            self._backlog_ready.clear()
            while self._backlog:
                count = min(len(self._backlog), PUBLISH_BATCH)
                batch = [self._backlog.popleft() for _ in range(count)]
                try:
                    async with self._publisher.pipeline(transaction=False) as pipe:
                        for channel, message in batch:
                            pipe.publish(channel, message)
                        await pipe.execute()
                except (RedisError, OSError) as exc:
                    self.dropped += len(batch)
                    logger.warning("live stream: publishing {} messages failed: {}", count, exc)

    # --- subscribing -----------------------------------------------------------------

    async def _listen(self, campaign_id: uuid.UUID) -> None:
        channel = self.channel(campaign_id)
        try:
            async with self._commands:
                confirmed = self._confirmed.get(channel)
                if confirmed is None:
                    confirmed = self._confirmed[channel] = asyncio.Event()
                    pubsub = await self._ensure_pubsub()
                    await pubsub.subscribe(channel)
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT):
                await confirmed.wait()
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning("live stream: cannot subscribe to Redis: {}", exc)
            await self._drop_pubsub(EndReason.interrupted)
            raise LiveUnavailable() from exc

    async def _unlisten(self, campaign_id: uuid.UUID) -> None:
        channel = self.channel(campaign_id)
        async with self._commands:
            # Someone may have started watching again while we waited for the lock.
            if self.subscriber_count(campaign_id) or self._confirmed.pop(channel, None) is None:
                return
            if self._pubsub is not None:
                try:
                    await self._pubsub.unsubscribe(channel)
                except (RedisError, OSError) as exc:
                    logger.warning("live stream: unsubscribing failed: {}", exc)

    async def _ensure_pubsub(self) -> PubSub:
        if self._pubsub is None:
            self._pubsub = self._subscriber.pubsub()
            await self._pubsub.connect()  # type: ignore[no-untyped-call]
            self._reader = asyncio.get_running_loop().create_task(self._read(self._pubsub))
        return self._pubsub

    async def _read(self, pubsub: PubSub) -> None:
        try:
            while True:
                message = await pubsub.get_message(timeout=READ_TIMEOUT)
                if message is not None:
                    self._on_message(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("live stream: lost the Redis subscription: {}", exc)
            if self._pubsub is pubsub:
                await self._drop_pubsub(EndReason.interrupted)

    def _on_message(self, message: dict[str, Any]) -> None:
        channel = _text(message["channel"])
        if message["type"] == "subscribe":
            confirmed = self._confirmed.get(channel)
            if confirmed is not None:
                confirmed.set()
        elif message["type"] == "message" and channel.startswith(self._channel_prefix):
            try:
                campaign_id = uuid.UUID(channel.removeprefix(self._channel_prefix))
            except ValueError:
                return
            self._deliver(campaign_id, _text(message["data"]))

    async def _drop_pubsub(self, reason: EndReason) -> None:
        """Forget the subscribing connection; end every subscription that relied on it."""
        pubsub, self._pubsub = self._pubsub, None
        reader, self._reader = self._reader, None
        confirmed, self._confirmed = self._confirmed, {}
        for event in confirmed.values():
            event.set()  # release waiters; their subscription is ended just below
        self._end_all(reason)
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
            with suppress(asyncio.CancelledError):
                await reader
        if pubsub is not None:
            with suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def build_hub(settings: Settings) -> LiveHub:
    if settings.redis_url:
        return RedisLiveHub(
            settings.redis_url, settings.redis_key_prefix, buffer=settings.live_buffer_events
        )
    return LiveHub(buffer=settings.live_buffer_events)


live_hub: LiveHub = build_hub(settings)
Gauge(
    "vigil_live_subscribers", "Live event streams open in this process.", registry=registry
).set_function(live_hub.subscriber_count)


def event_message(event: EventView) -> dict[str, Any]:
    return {"type": "event", "event": event.as_dict()}


@on_event
async def publish_events(events: list[EventView]) -> None:
    """Each committed event goes to its campaign's channel."""
    for event in events:
        if live_hub.wants(event.campaign_id):
            live_hub.publish(event.campaign_id, event_message(event))
