"""Test set-up: SQLite and in-process backends by default; PostgreSQL and Redis when
`VIGIL_TEST_DATABASE_URL` / `VIGIL_TEST_REDIS_URL` are set.

Settings are read at import time, so the environment is arranged here before any
application module is imported. The schema is built once per run by the real migrations;
each test then starts from empty tables.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="vigil-test-"))
_RUN = uuid.uuid4().hex[:8]
# On PostgreSQL the app runs as it does in production: as a role that owns no table and has
# no BYPASSRLS, so row-level security is live in every test. Migrations, and the tests'
# own arranging and checking of data, use the owner (the URL given).
APP_ROLE = "vigil_test_app"
_PG_URL = os.environ.get("VIGIL_TEST_DATABASE_URL")
os.environ["VIGIL_ENV"] = "test"
if _PG_URL:
    from sqlalchemy.engine import make_url as _make_url

    os.environ["VIGIL_MIGRATION_DATABASE_URL"] = _PG_URL
    os.environ["VIGIL_DATABASE_URL"] = (
        _make_url(_PG_URL)
        .set(username=APP_ROLE, password=None)
        .render_as_string(hide_password=False)
    )
    os.environ["VIGIL_DATABASE_APP_ROLE"] = APP_ROLE
else:
    os.environ["VIGIL_DATABASE_URL"] = f"sqlite+aiosqlite:///{_TMP / 'test.db'}"
    os.environ.pop("VIGIL_MIGRATION_DATABASE_URL", None)
    os.environ.pop("VIGIL_DATABASE_APP_ROLE", None)
os.environ["VIGIL_REDIS_URL"] = os.environ.get("VIGIL_TEST_REDIS_URL", "")
os.environ["VIGIL_REDIS_KEY_PREFIX"] = f"vigil-test-{_RUN}:"
os.environ["VIGIL_WORKERS_IN_PROCESS"] = "true"
os.environ["VIGIL_WORKER_POLL_SECONDS"] = "0.05"
# Tests drive phishing send passes themselves (`phishing_sender.run_pass`).
os.environ["VIGIL_SEND_POLL_SECONDS"] = "3600"
# … and training passes (`training_reminders.run_pass`).
os.environ["VIGIL_TRAINING_POLL_SECONDS"] = "3600"
os.environ["VIGIL_LOG_LEVEL"] = "WARNING"
os.environ["VIGIL_BCRYPT_ROUNDS"] = "4"  # real bcrypt, cheap cost: the suite hashes a lot
os.environ["VIGIL_EMAIL_BACKEND"] = "outbox"
os.environ["VIGIL_EMAIL_OUTBOX_DIR"] = str(_TMP / "outbox")
os.environ["VIGIL_STORAGE_LOCAL_PATH"] = str(_TMP / "storage")
os.environ["VIGIL_STORAGE_BACKEND"] = "local"
os.environ.setdefault("VIGIL_SENTRY_DSN", "")

from collections.abc import AsyncIterator  # noqa: E402

import pytest  # noqa: E402
from asgi_lifespan import LifespanManager  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from httpx import ASGITransport, AsyncClient  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine  # noqa: E402

from core.cache import cache  # noqa: E402
from core.config import settings  # noqa: E402
from core.rate_limit import rate_limiter  # noqa: E402
from db.base import Base  # noqa: E402
from db.migrations import migrate  # noqa: E402
from db.session import engine  # noqa: E402

IS_POSTGRES = not settings.is_sqlite
# The table owner: bypasses row-level security, for arranging and inspecting test data.
owner_engine = create_async_engine(settings.effective_migration_url) if IS_POSTGRES else engine
OwnerSession = async_sessionmaker(owner_engine, expire_on_commit=False, autoflush=False)
TEST_TMP = _TMP


def pytest_report_header() -> list[str]:
    return [
        f"vigil: database={settings.database_backend} "
        f"redis={'on' if settings.redis_url else 'off (in-process)'}"
    ]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if IS_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set VIGIL_TEST_DATABASE_URL)")
    for item in items:
        if item.get_closest_marker("postgres_only"):
            item.add_marker(skip)


async def _reset_postgres_schema() -> None:
    async with owner_engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
        exists = await conn.scalar(
            text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}
        )
        if not exists:
            await conn.execute(text(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS"))


@pytest.fixture(scope="session", autouse=True)
async def database() -> AsyncIterator[None]:
    if IS_POSTGRES:
        await _reset_postgres_schema()
    await migrate()
    yield
    await engine.dispose()
    await owner_engine.dispose()


@pytest.fixture(autouse=True)
async def _clean_state(database: None) -> AsyncIterator[None]:
    yield
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    async with owner_engine.begin() as conn:
        if IS_POSTGRES:
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for name in tables:
                await conn.execute(text(f"DELETE FROM {name}"))
    await rate_limiter.reset_all()
    if not settings.redis_url:
        await cache.close()


@pytest.fixture(scope="session")
async def app(database: None) -> AsyncIterator[FastAPI]:
    from main import create_app
    from tests.support.routes import router

    application = create_app()
    application.include_router(router)
    async with LifespanManager(application, startup_timeout=30, shutdown_timeout=30):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=app, client=("203.0.113.7", 51000))
    async with AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def session() -> AsyncIterator[AsyncSession]:
    """A session for arranging and checking data directly, as the table owner (it sees every
    company's rows); commits are the test's to make."""
    async with OwnerSession() as db:
        yield db


class Tenant:
    """A company with an admin, a manager and a learner, committed, with their headers."""

    def __init__(self, company, admin, manager, learner):
        from tests.factories import bearer

        self.company = company
        self.admin, self.manager, self.learner = admin, manager, learner
        self.admin_headers = bearer(admin)
        self.manager_headers = bearer(manager)
        self.learner_headers = bearer(learner)


async def _make_tenant(session: AsyncSession, name: str) -> Tenant:
    from models.user import Role
    from tests.factories import make_company, make_user

    company = await make_company(session, name=name)
    admin = await make_user(session, company, role=Role.admin)
    manager = await make_user(session, company, role=Role.manager)
    learner = await make_user(session, company, role=Role.learner)
    await session.commit()
    return Tenant(company, admin, manager, learner)


@pytest.fixture
async def tenant(session: AsyncSession) -> Tenant:
    return await _make_tenant(session, "Acme")


@pytest.fixture
async def other_tenant(session: AsyncSession) -> Tenant:
    return await _make_tenant(session, "Globex")
