"""A task the tests enqueue to watch after-commit dispatch end to end."""

from __future__ import annotations

import asyncio

from worker.broker import broker

received: list[str] = []
arrived = asyncio.Event()


@broker.task(task_name="tests.record_company")
async def record_company(company_id: str) -> None:
    received.append(company_id)
    arrived.set()
