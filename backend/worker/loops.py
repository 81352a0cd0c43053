"""Periodic loops that claim due durable rows (phishing sends, reminders, webhook
deliveries). Features register theirs with `@periodic(...)`; `run_loops` drives them all
until asked to stop, finishing the pass in progress first."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from loguru import logger

LoopFunc = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Loop:
    name: str
    interval: float
    func: LoopFunc


_registry: dict[str, Loop] = {}


def periodic(name: str, interval: float) -> Callable[[LoopFunc], LoopFunc]:
    def register(func: LoopFunc) -> LoopFunc:
        _registry[name] = Loop(name, interval, func)
        return func

    return register


def registered_loops() -> list[Loop]:
    return list(_registry.values())


def unregister(name: str) -> None:
    _registry.pop(name, None)


async def _run_one(loop: Loop, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await loop.func()
        except Exception:
            logger.exception("worker loop {} failed; retrying in {}s", loop.name, loop.interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=loop.interval)


async def run_loops(stop: asyncio.Event, loops: list[Loop] | None = None) -> None:
    """Run each loop until `stop` is set; a pass that has started is allowed to finish."""
    selected = registered_loops() if loops is None else loops
    if not selected:
        await stop.wait()
        return
    await asyncio.gather(*(_run_one(loop, stop) for loop in selected))
