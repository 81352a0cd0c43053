"""GET /health/live through Vigil's full middleware stack vs a bare FastAPI endpoint.

Same uvicorn settings, same load tool, 64 connections, 10 s per round; server pinned to one
core and wrk to the other; fresh processes each round, alternating which goes first; medians
compared. Goal: ratio >= 0.8.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import LoadResult, load, median, uvicorn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--access-log", action="store_true", help="one log line per request")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    # The stack as it runs in production (HSTS on, access log at its production default);
    # `--access-log` measures it with one log line per request as well.
    env = {
        "VIGIL_ENV": "production",
        "VIGIL_SECRET_KEY": secrets.token_urlsafe(48),
        "VIGIL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'bench.db'}",
        "VIGIL_LOG_LEVEL": "INFO",
        "VIGIL_ACCESS_LOG": "true" if args.access_log else "false",
    }
    full: list[LoadResult] = []
    bare: list[LoadResult] = []
    # A fresh pair of processes each round, in alternating order: a process can land on a
    # slow or fast footing for its whole life, so one long-lived pair is not a fair sample.
    for round_no in range(args.rounds):
        order = [("main:app", full), ("bench.bare_app:app", bare)]
        if round_no % 2:
            order.reverse()
        for app, results in order:
            with uvicorn(app, env) as server:
                load(server, "/health/live", seconds=2, connections=args.connections)  # warm-up
                results.append(
                    load(server, "/health/live", seconds=args.seconds, connections=args.connections)
                )

    full_rate = median([r.rate for r in full])
    bare_rate = median([r.rate for r in bare])
    full_cpu = median([r.cpu_us_per_request for r in full])
    bare_cpu = median([r.cpu_us_per_request for r in bare])
    errors = sum(r.errors for r in full + bare)
    print(
        f"GET /health/live, full middleware stack (access log {'on' if args.access_log else 'off'})"
        " vs bare FastAPI "
        f"({args.rounds} rounds x {args.seconds:.0f}s, {args.connections} connections)"
    )
    print(f"  full stack : {full_rate:8.0f} req/s   {full_cpu:6.0f} us CPU/request")
    print(f"  bare       : {bare_rate:8.0f} req/s   {bare_cpu:6.0f} us CPU/request")
    print(
        f"  ratio      : {full_rate / bare_rate:.2f} of the bare rate (goal >= 0.80); "
        f"CPU ratio {bare_cpu / full_cpu:.2f}; errors {errors}"
    )


if __name__ == "__main__":
    main()
