from __future__ import annotations

import pytest

from core.exceptions import RateLimited
from core.rate_limit import rate_limiter


class TestRateLimitOverHttp:
    async def test_fourth_request_in_a_minute_is_429_with_retry_after(self, client):
        for _ in range(3):
            assert (await client.get("/_test/limited")).status_code == 200
        r = await client.get("/_test/limited")
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "rate_limited"
        retry_after = int(r.headers["retry-after"])
        assert 1 <= retry_after <= 60
        assert r.json()["error"]["details"]["retry_after"] == retry_after

    async def test_forwarded_for_from_an_untrusted_peer_does_not_reset_the_budget(self, client):
        for i in range(3):
            await client.get("/_test/limited", headers={"X-Forwarded-For": f"10.1.1.{i}"})
        r = await client.get("/_test/limited", headers={"X-Forwarded-For": "10.9.9.9"})
        assert r.status_code == 429


class TestRateLimiter:
    async def test_ip_and_account_are_counted_separately(self):
        for _ in range(2):
            await rate_limiter.hit("t.sep", "2/minute", ip="192.0.2.1", account="a@x.test")
        with pytest.raises(RateLimited):
            await rate_limiter.hit("t.sep", "2/minute", ip="192.0.2.99", account="a@x.test")
        with pytest.raises(RateLimited):
            await rate_limiter.hit("t.sep", "2/minute", ip="192.0.2.1", account="b@x.test")
        await rate_limiter.hit("t.sep", "2/minute", ip="192.0.2.99", account="b@x.test")

    async def test_account_key_is_case_insensitive(self):
        await rate_limiter.hit("t.case", "1/minute", account="Someone@X.test")
        with pytest.raises(RateLimited):
            await rate_limiter.hit("t.case", "1/minute", account="someone@x.test")

    async def test_refused_attempt_does_not_consume_the_other_budget(self):
        await rate_limiter.hit("t.budget", "1/minute", account="victim@x.test")
        with pytest.raises(RateLimited):
            await rate_limiter.hit(
                "t.budget", "1/minute", ip="198.51.100.1", account="victim@x.test"
            )
        # The IP was refused on the account key, so its own budget is still whole.
        await rate_limiter.hit("t.budget", "1/minute", ip="198.51.100.1")

    async def test_reset_clears_a_key(self):
        await rate_limiter.hit("t.reset", "1/minute", ip="192.0.2.5")
        await rate_limiter.reset("t.reset", "1/minute", ip="192.0.2.5")
        await rate_limiter.hit("t.reset", "1/minute", ip="192.0.2.5")

    async def test_storage_answers(self):
        assert await rate_limiter.ping()
