"""Durable sending under SIGKILL: a 2,000-recipient campaign on PostgreSQL, its worker
killed again and again mid-send, then left to finish. Prints how many emails each
recipient got: every one exactly once, except sends recorded `unknown` (the worker died
while handing that message over), and none missing.

Needs the machine's PostgreSQL. Exits non-zero if an email is missing or duplicated.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_phishing import LAUNCH, SEED
from common import BACKEND, SERVER_CPU, backend_python, pin, postgres_database, smtp_sink

STATUSES = """
import asyncio, json
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
import os
async def main():
    engine = create_async_engine(os.environ["BENCH_DATABASE_URL"])
    async with engine.connect() as conn:
        sql = "SELECT email, send_status FROM phishing_recipients"
        rows = (await conn.execute(text(sql))).all()
    await engine.dispose()
    print(json.dumps(dict(rows)))
asyncio.run(main())
"""


def worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*pin(SERVER_CPU), sys.executable, "-m", "worker"],
        cwd=BACKEND,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def statuses(env: dict[str, str]) -> dict[str, str]:
    result: dict[str, str] = json.loads(backend_python(STATUSES, env))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=6)
    args = parser.parse_args()
    settings = {
        "VIGIL_ALLOW_PRIVATE_NETWORK_TARGETS": "true",
        "VIGIL_REDIS_URL": "",
        "VIGIL_SEND_POLL_SECONDS": "0.2",
        "VIGIL_SEND_LEASE_SECONDS": "10",
        "VIGIL_SEND_BATCH_SIZE": "50",
    }
    rng = random.Random()
    with (
        tempfile.TemporaryDirectory() as tmp,
        smtp_sink(Path(tmp), delay=0.004) as sink,
        postgres_database(**settings) as env,
    ):
        seed = SEED.format(launch=0, send=args.recipients, port=sink.port)
        company, admin, _, group, profile, template = backend_python(seed, env).split()
        ids = " ".join((company, admin, group, profile, template))
        backend_python(LAUNCH.format(ids=ids, window=0, launch_at="None"), env)
        started = time.monotonic()
        for _ in range(args.kills):
            proc = worker(env)
            time.sleep(rng.uniform(1.5, 4.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        proc = worker(env)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            state = Counter(statuses(env).values())
            if not state.keys() & {"pending", "claimed", "handover"}:
                break
            time.sleep(2)
        proc.terminate()
        proc.wait(timeout=60)
        elapsed = time.monotonic() - started
        final = statuses(env)
        received = sink.counts()

    state = Counter(final.values())
    once = sum(1 for email in final if received.get(email.lower(), 0) == 1)
    twice = sorted(e for e in final if received.get(e.lower(), 0) > 1)
    missing = sorted(
        e for e, s in final.items() if received.get(e.lower(), 0) == 0 and s != "unknown"
    )
    unrecorded = sorted(e for e, s in final.items() if s == "sent" and not received.get(e.lower()))
    print(f"Durable sending: {args.recipients} recipients, worker SIGKILLed {args.kills} times")
    print(f"  final states: {dict(state)} after {elapsed:.0f} s")
    print(f"  received exactly once: {once}; more than once: {len(twice)}; missing: {len(missing)}")
    print(f"  unknown (worker died mid-handover): {state.get('unknown', 0)}")
    if twice or missing or unrecorded:
        print(f"  FAILED: duplicates {twice[:5]} missing {missing[:5]} unrecorded {unrecorded[:5]}")
        sys.exit(1)


if __name__ == "__main__":
    main()
