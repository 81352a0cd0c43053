"""Every error answers with the one error body, and bad input writes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from models.company import Company


async def count_companies(session) -> int:
    return (await session.scalar(select(func.count()).select_from(Company))) or 0


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "request_id"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


class TestRoutingErrors:
    async def test_unknown_route_is_404_with_error_body(self, client):
        assert_error(await client.get("/api/v1/no-such-thing"), 404, "not_found")

    async def test_wrong_method_is_405(self, client):
        r = await client.delete("/health/live")
        assert_error(r, 405, "method_not_allowed")
        assert "GET" in r.headers["allow"]


class TestBadBodies:
    async def test_malformed_json_is_400_and_writes_nothing(self, client, session):
        r = await client.post(
            "/_test/things", content=b'{"name": "x",', headers={"content-type": "application/json"}
        )
        assert_error(r, 400, "invalid_json")
        assert await count_companies(session) == 0

    async def test_wrong_type_is_422_with_location(self, client, session):
        r = await client.post("/_test/things", json={"name": "x", "count": "many"})
        body = assert_error(r, 422, "validation_error")
        assert body["error"]["details"][0]["loc"] == ["body", "count"]
        assert await count_companies(session) == 0

    async def test_unknown_field_is_422(self, client, session):
        r = await client.post("/_test/things", json={"name": "x", "company_id": "abc"})
        body = assert_error(r, 422, "validation_error")
        assert body["error"]["details"][0]["type"] == "extra_forbidden"
        assert await count_companies(session) == 0

    async def test_validation_error_does_not_echo_the_input(self, client):
        r = await client.post("/_test/things", json={"name": "S3cret-Passw0rd!" * 10})
        assert_error(r, 422, "validation_error")
        assert "S3cret-Passw0rd!" not in r.text

    async def test_body_over_limit_by_content_length_is_413(self, client, session):
        r = await client.post(
            "/_test/things",
            content=b"x" * (20 * 1024 * 1024),
            headers={"content-type": "application/json"},
        )
        assert_error(r, 413, "payload_too_large")
        assert await count_companies(session) == 0

    async def test_streamed_body_over_limit_is_413(self, client, session):
        async def chunks():
            for _ in range(12):
                yield b" " * (1024 * 1024)

        r = await client.post(
            "/_test/things", content=chunks(), headers={"content-type": "application/json"}
        )
        assert "content-length" not in r.request.headers
        assert_error(r, 413, "payload_too_large")
        assert await count_companies(session) == 0

    async def test_invalid_content_length_is_400(self, client):
        r = await client.post("/_test/things", content=b"{}", headers={"content-length": "abc"})
        assert_error(r, 400, "bad_request")


class TestDomainAndUnexpectedErrors:
    async def test_domain_error_keeps_its_status_code_and_details(self, client):
        body = assert_error(await client.get("/_test/domain-error"), 409, "conflict")
        assert body["error"]["message"] == "That name is taken."
        assert body["error"]["details"] == {"field": "name"}

    async def test_unexpected_error_is_500_without_traceback_or_sql(self, client):
        r = await client.get("/_test/boom")
        body = assert_error(r, 500, "internal_error")
        assert "SELECT" not in r.text
        assert "Traceback" not in r.text
        assert "password" not in r.text
        assert body["error"]["details"] is None
        assert r.headers["x-content-type-options"] == "nosniff"

    async def test_domain_error_after_a_write_rolls_it_back(self, client, session):
        r = await client.post("/_test/things-then-fail", json={"name": "half"})
        assert_error(r, 409, "conflict")
        assert await count_companies(session) == 0

    async def test_crash_after_a_write_rolls_it_back(self, client, session):
        assert_error(
            await client.post("/_test/things-then-crash", json={"name": "half"}),
            500,
            "internal_error",
        )
        assert await count_companies(session) == 0

    async def test_success_commits_before_answering(self, client, session):
        r = await client.post("/_test/things", json={"name": "kept"})
        assert r.status_code == 201
        assert await count_companies(session) == 1


class TestPaginationInput:
    async def test_absurd_limit_is_422(self, client):
        body = assert_error(await client.get("/_test/things?limit=100000"), 422, "validation_error")
        assert body["error"]["details"][0]["loc"] == ["query", "limit"]

    async def test_zero_limit_is_422(self, client):
        assert_error(await client.get("/_test/things?limit=0"), 422, "validation_error")

    async def test_garbage_cursor_is_400(self, client):
        assert_error(await client.get("/_test/things?cursor=%%%not-base64"), 400, "invalid_cursor")

    async def test_well_formed_cursor_for_another_list_is_400(self, client):
        from db.pagination import encode_cursor

        cursor = encode_cursor("created_at,id", ("x", "y"))
        assert_error(await client.get(f"/_test/things?cursor={cursor}"), 400, "invalid_cursor")


class TestUnitOfWorkRoutes:
    def test_every_route_that_takes_a_session_opens_its_unit_of_work(self):
        from fastapi.routing import APIRoute

        from api.dependencies.common import UnitOfWorkRoute, _takes_session
        from main import app

        takers = [r for r in app.routes if isinstance(r, APIRoute) and _takes_session(r.dependant)]
        assert len(takers) > 50  # the check would be empty otherwise
        assert [r.path for r in takers if not isinstance(r, UnitOfWorkRoute)] == []
