"""Rate limits by client IP and by account, on the `limits` library: in-process by default,
Redis when configured, so a limit holds across every API replica.

Use from a service or a route dependency:
    await rate_limiter.hit("login", "10/minute", ip=client_ip, account=email)
A refused hit raises `RateLimited`, rendered as 429 with `Retry-After`.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from core.config import Settings, settings
from core.exceptions import RateLimited


def _storage(settings: Settings) -> Storage:
    if settings.redis_url:
        url = settings.redis_url
        uri = "async+" + url if not url.startswith("async+") else url
        return RedisStorage(
            uri, implementation="redispy", key_prefix=settings.redis_key_prefix + "ratelimit"
        )
    return MemoryStorage()


def _keys(ip: str | None, account: str | None) -> list[tuple[str, str]]:
    return [(kind, value.lower()) for kind, value in (("ip", ip), ("account", account)) if value]


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self._storage = _storage(settings)
        self._strategy = SlidingWindowCounterRateLimiter(self._storage)
        self._items: dict[str, RateLimitItem] = {}

    def _item(self, limit: str) -> RateLimitItem:
        item = self._items.get(limit)
        if item is None:
            item = self._items[limit] = parse(limit)
        return item

    async def hit(
        self, scope: str, limit: str, *, ip: str | None = None, account: str | None = None
    ) -> None:
        """Count one attempt against each key given; refuse when any is over its limit.

        Each key is checked before any is counted, so a refused attempt does not also eat
        into the other key's budget."""
        await self.check(scope, limit, ip=ip, account=account)
        await self.consume(scope, limit, ip=ip, account=account)

    async def check(
        self, scope: str, limit: str, *, ip: str | None = None, account: str | None = None
    ) -> None:
        """Refuse (429) when a key has no attempts left, without counting this one: for
        limits that only count failures, such as wrong passwords."""
        item = self._item(limit)
        for kind, value in _keys(ip, account):
            if not await self._strategy.test(item, scope, kind, value):
                raise RateLimited(await self._retry_after(item, scope, kind, value))

    async def consume(
        self, scope: str, limit: str, *, ip: str | None = None, account: str | None = None
    ) -> None:
        item = self._item(limit)
        for kind, value in _keys(ip, account):
            await self._strategy.hit(item, scope, kind, value)

    async def reset(
        self, scope: str, limit: str, *, ip: str | None = None, account: str | None = None
    ) -> None:
        item = self._item(limit)
        for kind, value in _keys(ip, account):
            await self._strategy.clear(item, scope, kind, value)

    async def _retry_after(self, item: RateLimitItem, *identifiers: str) -> int:
        stats = await self._strategy.get_window_stats(item, *identifiers)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def ping(self) -> bool:
        return bool(await self._storage.check())

    async def reset_all(self) -> None:
        await self._storage.reset()


rate_limiter = RateLimiter(settings)
