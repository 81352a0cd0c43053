from __future__ import annotations

import asyncio

from tests.support import tasks as test_tasks
from worker.loops import Loop, run_loops


async def wait_for_job(seconds: float = 10.0) -> None:
    await asyncio.wait_for(test_tasks.arrived.wait(), seconds)


class TestAfterCommitDispatch:
    async def test_job_is_sent_after_the_request_commits(self, client):
        test_tasks.received.clear()
        test_tasks.arrived.clear()
        r = await client.post("/_test/jobs")
        assert r.status_code == 201
        await wait_for_job()
        assert test_tasks.received == [r.json()["id"]]

    async def test_job_is_not_sent_when_the_request_rolls_back(self, client):
        test_tasks.received.clear()
        test_tasks.arrived.clear()
        r = await client.post("/_test/jobs", params={"fail": "true"})
        assert r.status_code == 409
        # Give a queued job every chance to arrive, then prove none did.
        await asyncio.sleep(0.5)
        assert test_tasks.received == []


class TestLoops:
    async def test_a_loop_runs_repeatedly_and_survives_its_own_errors(self):
        calls = 0
        stop = asyncio.Event()

        async def flaky() -> None:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise RuntimeError("transient")
            if calls >= 4:
                stop.set()

        await asyncio.wait_for(run_loops(stop, [Loop("flaky", 0.01, flaky)]), 5)
        assert calls == 4

    async def test_stop_lets_the_pass_in_progress_finish(self):
        stop = asyncio.Event()
        finished = asyncio.Event()

        async def slow_pass() -> None:
            stop.set()  # asked to stop while this pass runs
            await asyncio.sleep(0.05)
            finished.set()

        await asyncio.wait_for(run_loops(stop, [Loop("slow", 10, slow_pass)]), 5)
        assert finished.is_set()
