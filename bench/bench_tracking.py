"""Tracking on PostgreSQL: the open-pixel route against a bare FastAPI route doing one
INSERT per request through asyncpg (same server, same load tool, same run), and a check
that no event is lost: 64 connections on the open and click routes of a campaign with
100,000 recipients, event rows counted against requests answered 2xx.

Needs the machine's PostgreSQL and wrk. Goal: the pixel route >= 1.0 of the bare rate.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_phishing import LAUNCH, SEED
from common import LOAD_CPU, backend_python, median, pin, postgres_database, settle, uvicorn

TOKENS = """
import asyncio, os
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
async def main():
    engine = create_async_engine(os.environ["BENCH_DATABASE_URL"])
    async with engine.begin() as conn:
        await conn.execute(text(
            "CREATE TABLE IF NOT EXISTS bench_hits (id bigserial PRIMARY KEY, token text, "
            "at timestamptz)"))
        await conn.execute(text("GRANT SELECT, INSERT ON bench_hits TO vigil_bench_app"))
        await conn.execute(text("GRANT USAGE ON SEQUENCE bench_hits_id_seq TO vigil_bench_app"))
        rows = (await conn.execute(text(
            "SELECT token FROM phishing_recipients ORDER BY random() LIMIT {n}"))).all()
    await engine.dispose()
    print("\\n".join(r[0] for r in rows))
asyncio.run(main())
"""

COUNT = """
import asyncio, os
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
async def main():
    engine = create_async_engine(os.environ["BENCH_DATABASE_URL"])
    async with engine.connect() as conn:
        events = await conn.scalar(text("SELECT count(*) FROM phishing_events"))
    await engine.dispose()
    print(events)
asyncio.run(main())
"""

LUA = """
local tokens = {{}}
for line in io.lines("{tokens}") do tokens[#tokens + 1] = line end
request = function()
  return wrk.format("GET", "{prefix}" .. tokens[math.random(#tokens)])
end
"""

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


def wrk(base: str, script: Path, seconds: int, connections: int) -> tuple[int, float, int, int]:
    """(requests, seconds, non-2xx, socket errors)."""
    argv = [*pin(LOAD_CPU), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    argv += ["-H", f"User-Agent: {BROWSER}", "-s", str(script), base]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if not match:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    elapsed = float(match.group(2)) / (1000 if match.group(3) == "ms" else 1)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    return (
        int(match.group(1)),
        elapsed,
        int(non2xx.group(1)) if non2xx else 0,
        sum(int(g) for g in sockets.groups()) if sockets else 0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, postgres_database() as env:
        folder = Path(tmp)
        seed = SEED.format(launch=args.recipients, send=0, port=25)
        company, admin, group, _, profile, template = backend_python(seed, env).split()
        ids = " ".join((company, admin, group, profile, template))
        backend_python(LAUNCH.format(ids=ids, window=0, launch_at="None"), env)
        settle(env)
        tokens = folder / "tokens.txt"
        tokens.write_text(backend_python(TOKENS.format(n=20_000), env))
        scripts = {}
        for name, prefix in (("vigil-open", "/t/o/"), ("bare", "/o/"), ("vigil-click", "/t/c/")):
            scripts[name] = folder / f"{name}.lua"
            scripts[name].write_text(LUA.format(tokens=tokens, prefix=prefix))

        vigil, bare = [], []
        for round_no in range(args.rounds):
            order = [("main:app", "vigil-open", vigil), ("bench.bare_insert_app:app", "bare", bare)]
            if round_no % 2:
                order.reverse()
            for app, script, results in order:
                with uvicorn(app, env) as server:
                    wrk(server.base, scripts[script], 2, 64)  # warm up
                    requests, seconds, _, _ = wrk(server.base, scripts[script], args.seconds, 64)
                    results.append(requests / seconds)
        events_before = int(backend_python(COUNT, env))
        with uvicorn("main:app", env) as server:
            totals = []
            for script in ("vigil-open", "vigil-click"):
                requests, _, non2xx, errors = wrk(server.base, scripts[script], args.seconds, 64)
                totals.append((requests, non2xx, errors))
        events = int(backend_python(COUNT, env)) - events_before
        answered = sum(r - n for r, n, _ in totals)
        socket_errors = sum(e for _, _, e in totals)

    v, b = median(vigil), median(bare)
    print("Tracking on PostgreSQL (app role under row-level security), 64 connections")
    print(f"  GET /t/o/{{token}} (event durable before the answer): {v:7.0f} req/s")
    print(f"  bare FastAPI, one asyncpg INSERT per request         : {b:7.0f} req/s")
    print(f"  ratio {v / b:.2f} (goal >= 1.0)")
    print(
        f"  no event lost: {answered} requests answered 2xx on /t/o and /t/c, "
        f"{events} event rows written ({socket_errors} socket errors)"
    )
    if events < answered:
        print("  FAILED: fewer events than answered requests")
        sys.exit(1)


if __name__ == "__main__":
    main()
