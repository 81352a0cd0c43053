"""Readiness: can this process serve traffic right now?"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import text

from core.cache import cache
from core.config import settings
from db.migrations import current_revisions, head_revisions, known_revisions
from db.session import engine

CHECK_TIMEOUT = 3.0


@dataclass
class Readiness:
    ok: bool = True
    checks: dict[str, str] = field(default_factory=dict)

    def fail(self, name: str, reason: str) -> None:
        self.ok = False
        self.checks[name] = reason


async def _check_database(result: Readiness) -> None:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            current = await conn.run_sync(current_revisions)
    except Exception as exc:
        # The class name only: a driver's message can carry a host or a user name.
        result.fail("database", f"unreachable ({type(exc).__name__})")
        result.fail("migrations", "unknown (database unreachable)")
        return
    result.checks["database"] = "ok"
    heads = head_revisions()
    at = ",".join(sorted(current)) or "none"
    if current == heads:
        result.checks["migrations"] = "ok"
    elif current and not current & known_revisions():
        # A newer release migrated first (rolling upgrade): migrations only ever add in a
        # backward-compatible way, so this older code keeps serving until it is replaced.
        result.checks["migrations"] = f"ok (database ahead of this release, at {at})"
    else:
        result.fail("migrations", f"not at head (at {at}, head {','.join(sorted(heads))})")


async def _check_redis(result: Readiness) -> None:
    if not settings.redis_url:
        return
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await cache.ping()
    except Exception as exc:
        result.fail("redis", f"unreachable ({type(exc).__name__})")
        return
    result.checks["redis"] = "ok"


async def check_readiness() -> Readiness:
    result = Readiness()
    await asyncio.gather(_check_database(result), _check_redis(result))
    return result
