"""A real server for WebSocket tests: the test app served by uvicorn on a free loopback
port, inside the test's own event loop (so the tests share its database and hub)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def eventually(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never came true")


class LoopbackServer:
    """`app` (whose lifespan is already running: the `app` fixture's) behind uvicorn."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve())
        await eventually(lambda: self.server.started)

    def begin_shutdown(self) -> None:
        self.server.should_exit = True

    async def stop(self) -> None:
        self.begin_shutdown()
        if self.task is not None:
            await self.task

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"
