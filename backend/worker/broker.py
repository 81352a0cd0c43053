"""The taskiq broker: in-process by default, Redis streams when `VIGIL_REDIS_URL` is set."""

from __future__ import annotations

from taskiq import AsyncBroker, InMemoryBroker

from core.config import Settings, settings


def build_broker(cfg: Settings) -> AsyncBroker:
    if cfg.redis_url:
        from taskiq_redis import RedisStreamBroker

        return RedisStreamBroker(
            url=cfg.redis_url,
            queue_name=f"{cfg.redis_key_prefix}tasks",
            consumer_group_name=f"{cfg.redis_key_prefix}workers",
        )
    # Tasks run as asyncio tasks of the API process itself.
    return InMemoryBroker(await_inplace=False)


broker: AsyncBroker = build_broker(settings)


def uses_external_queue() -> bool:
    return not isinstance(broker, InMemoryBroker)
