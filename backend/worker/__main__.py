"""A worker process: `python -m worker` (or `make worker`).

Receives jobs from the Redis stream and runs the durable-row loops until SIGTERM or
SIGINT, then finishes the pass in progress and exits. Any number may run at once."""

from __future__ import annotations

import asyncio
import signal

from loguru import logger

from core.config import settings
from core.logging import setup_logging
from core.monitoring import init_sentry
from db.session import dispose_engine
from worker.broker import broker, uses_external_queue
from worker.runtime import WorkerRuntime


async def serve() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if not uses_external_queue():
        logger.warning(
            "VIGIL_REDIS_URL is not set: this worker runs the polling loops only; jobs sent "
            "by the API run inside the API process"
        )
    await broker.startup()
    runtime = WorkerRuntime(receive=True)
    await runtime.start()
    await stop.wait()
    logger.info("shutting down worker")
    await runtime.stop()
    await broker.shutdown()
    await dispose_engine()


def main() -> None:
    setup_logging(settings)
    init_sentry(settings)
    asyncio.run(serve())


if __name__ == "__main__":
    main()
