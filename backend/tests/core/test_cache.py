from __future__ import annotations

import asyncio

import pytest

from core.cache import MemoryCache, cache


@pytest.fixture(params=["memory", "configured"])
def any_cache(request):
    """The in-process cache, and the one the settings chose (Redis in the PostgreSQL run)."""
    return MemoryCache() if request.param == "memory" else cache


class TestCache:
    async def test_set_get_delete(self, any_cache):
        await any_cache.set("k1", b"v1")
        assert await any_cache.get("k1") == b"v1"
        await any_cache.delete("k1")
        assert await any_cache.get("k1") is None

    async def test_ttl_expires(self, any_cache):
        await any_cache.set("k2", b"v", ttl=0.05)
        await asyncio.sleep(0.12)
        assert await any_cache.get("k2") is None

    async def test_incr_counts_within_ttl(self, any_cache):
        await any_cache.delete("n")
        assert await any_cache.incr("n", ttl=5) == 1
        assert await any_cache.incr("n", ttl=5) == 2
        await any_cache.delete("n")

    async def test_ping(self, any_cache):
        await any_cache.ping()


def test_memory_cache_is_bounded():
    small = MemoryCache(max_entries=3)

    async def fill() -> None:
        for i in range(5):
            await small.set(f"k{i}", b"x")

    asyncio.run(fill())
    assert asyncio.run(small.get("k0")) is None
    assert asyncio.run(small.get("k4")) == b"x"
