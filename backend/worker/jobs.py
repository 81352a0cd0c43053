"""Enqueue a job from inside a unit of work: it is sent only once the transaction commits."""

from __future__ import annotations

from typing import Any

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncSession
from taskiq import AsyncTaskiqDecoratedTask

from core.monitoring import JOB_DISPATCH_FAILURES, JOBS_DISPATCHED
from db.session import after_commit


def enqueue(
    session: AsyncSession, task: AsyncTaskiqDecoratedTask[Any, Any], *args: Any, **kwargs: Any
) -> None:
    """Send `task(*args, **kwargs)` to the broker after `session` commits; drop it on rollback.

    Pass ids, not objects: the job opens its own session and re-reads what it needs."""

    async def send() -> None:
        try:
            await task.kiq(*args, **kwargs)
        except Exception:
            JOB_DISPATCH_FAILURES.labels(task.task_name).inc()
            logger.exception("could not send job {}", task.task_name)
            raise
        JOBS_DISPATCHED.labels(task.task_name).inc()

    after_commit(session, send)
