from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from core.config import settings


class TestLive:
    async def test_live_is_ok_without_io(self, client):
        r = await client.get("/health/live")
        assert r.status_code == 200
        assert r.json() == {"status": "ok"}


class TestReady:
    async def test_ready_when_database_and_migrations_are_fine(self, client):
        r = await client.get("/health/ready")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "ok"
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["migrations"] == "ok"
        if settings.redis_url:
            assert body["checks"]["redis"] == "ok"
        else:
            assert "redis" not in body["checks"]

    async def _ready_with_version(self, client, version: str | None):
        from tests.conftest import owner_engine as engine

        async with engine.begin() as conn:
            real = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            await conn.execute(text("DELETE FROM alembic_version"))
            if version:
                await conn.execute(
                    text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": version}
                )
        try:
            return await client.get("/health/ready")
        finally:
            async with engine.begin() as conn:
                await conn.execute(text("DELETE FROM alembic_version"))
                await conn.execute(
                    text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": real}
                )

    async def test_503_when_migrations_are_behind(self, client):
        r = await self._ready_with_version(client, None)
        assert r.status_code == 503
        assert r.json()["status"] == "unavailable"
        assert r.json()["checks"]["migrations"].startswith("not at head (at none")

    async def test_ready_when_a_newer_release_already_migrated(self, client):
        r = await self._ready_with_version(client, "f00dfeed1234")
        assert r.status_code == 200
        assert "ahead" in r.json()["checks"]["migrations"]

    async def test_503_when_database_is_unreachable(self, client, monkeypatch):
        import services.health

        dead = create_async_engine("postgresql+asyncpg://nobody:pw@127.0.0.1:1/none")
        monkeypatch.setattr(services.health, "engine", dead)
        r = await client.get("/health/ready")
        await dead.dispose()
        assert r.status_code == 503
        assert r.json()["checks"]["database"].startswith("unreachable")
        assert "pw" not in r.text

    async def test_503_when_redis_is_unreachable(self, client, monkeypatch):
        import services.health
        from core.cache import RedisCache

        monkeypatch.setattr(settings, "redis_url", "redis://127.0.0.1:1/0")
        broken = RedisCache("redis://127.0.0.1:1/0", "x:")
        monkeypatch.setattr(services.health, "cache", broken)
        r = await client.get("/health/ready")
        assert r.status_code == 503
        assert r.json()["checks"]["redis"].startswith("unreachable")


class TestMetrics:
    async def test_request_metrics_by_route_template(self, client):
        await client.get("/health/live")
        await client.get("/no/such/path/123")
        r = await client.get("/metrics")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        text_body = r.text
        assert (
            'vigil_http_request_duration_seconds_count{method="GET",route="/health/live",'
            'status="200"}' in text_body
        )
        assert 'route="<unmatched>",status="404"' in text_body
        assert "/no/such/path/123" not in text_body
        assert "vigil_http_request_duration_seconds_bucket" in text_body
        assert "vigil_http_requests_in_flight" in text_body

    async def test_database_pool_use_is_exported(self, client):
        r = await client.get("/metrics")
        assert "vigil_db_pool_checked_out" in r.text
        assert "vigil_db_pool_size" in r.text
