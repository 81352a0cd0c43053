"""Start and stop the worker machinery: inside the API process (embedded default) or in a
separate `python -m worker` process."""

from __future__ import annotations

import asyncio
import contextlib
import importlib

from loguru import logger
from taskiq.api import run_receiver_task

from worker.broker import broker, uses_external_queue
from worker.loops import run_loops


class WorkerRuntime:
    def __init__(self, *, receive: bool) -> None:
        # With the in-memory broker the API process runs each job the moment it is sent,
        # so there is nothing to receive; with Redis, a receiver reads the stream.
        self.receive = receive and uses_external_queue()
        self._stop = asyncio.Event()
        self._loops: asyncio.Task[None] | None = None
        self._receiver: asyncio.Task[None] | None = None

    async def start(self) -> None:
        importlib.import_module("worker.tasks")  # registers every task with the broker
        self._loops = asyncio.create_task(run_loops(self._stop), name="vigil-loops")
        if self.receive:
            self._receiver = asyncio.create_task(
                run_receiver_task(broker, max_async_tasks=50, run_startup=False),
                name="vigil-receiver",
            )
        logger.info("worker started (receiver: {})", "on" if self.receive else "off")

    async def stop(self, grace: float = 30.0) -> None:
        """Let the loops finish the pass in progress, then stop receiving."""
        self._stop.set()
        if self._loops is not None:
            try:
                await asyncio.wait_for(self._loops, timeout=grace)
            except TimeoutError:
                logger.warning("worker loops did not stop within {}s; cancelling", grace)
        if self._receiver is not None:
            self._receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._receiver
        logger.info("worker stopped")
