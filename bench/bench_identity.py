"""Identity on PostgreSQL: authenticated user read vs a bare FastAPI + SQLAlchemy read,
listing users, a 50,000-row CSV import, and login throughput against bcrypt's own rate.

Needs the machine's PostgreSQL (127.0.0.1:5432, trust auth, user postgres). Creates and
drops its own database. Goals: GET /users/{id} >= 0.6 of the bare rate; import < 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    LOAD_CPU,
    backend_python,
    load,
    median,
    pin,
    postgres_database,
    settle,
    uvicorn,
)

PASSWORD = "bench-password-for-login"  # noqa: S105 - a throw-away bench account


SEED = """
import asyncio, uuid
from sqlalchemy import insert
from db.migrations import migrate
from db.session import unit_of_work, dispose_engine
from db.scoping import bind_tenant
from core.security import hash_password, create_access_token
from models.base import new_id
from models.company import Company
from models.user import User, Role, UserStatus

async def main():
    await migrate()
    async with unit_of_work() as s:
        c = Company(name="Bench")
        s.add(c); await s.flush()
        await bind_tenant(s, c.id)
        pw = await hash_password("{password}")
        admin = User(company_id=c.id, email="admin@bench.example.com", role=Role.admin,
                     status=UserStatus.active, password_hash=pw)
        s.add(admin); await s.flush()
        rows = [dict(id=new_id(), company_id=c.id, email=f"u{{i}}@bench.example.com",
                     department=("Finance", "Sales", "Ops")[i % 3], role=Role.learner,
                     status=UserStatus.active, custom_attributes={{}}) for i in range(10000)]
        for i in range(0, len(rows), 1000):
            await s.execute(insert(User), rows[i:i+1000])
        token, _ = create_access_token(admin.id, c.id, uuid.uuid4())
        print(token, rows[5000]["id"])
    await dispose_engine()
asyncio.run(main())
"""

VERIFY = """
import time, sys
from pwdlib import PasswordHash
from pwdlib.hashers.bcrypt import BcryptHasher
h = PasswordHash((BcryptHasher(rounds=12),))
stored = h.hash("x-password-for-bench")
n = 8; t = time.perf_counter()
for _ in range(n): h.verify("x-password-for-bench", stored)
print(n / (time.perf_counter() - t))
"""


def wrk_latency(
    url: str, headers: dict[str, str], seconds: int, connections: int
) -> dict[str, str]:
    argv = [*pin(LOAD_CPU), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for k, v in headers.items():
        argv += ["-H", f"{k}: {v}"]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    found = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, flags=re.MULTILINE))
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    found["rate"] = rate.group(1) if rate else "?"
    return found


def login_rate(base: str, seconds: int, connections: int) -> float:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.body = \'{{"email": "admin@bench.example.com", "password": "{PASSWORD}"}}\'\n'
    )
    out = subprocess.run(
        [
            *pin(LOAD_CPU),
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "-s",
            str(script),
            f"{base}/api/v1/auth/login",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        print(f"  (login: {non2xx.group(1)} non-2xx answers)")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def import_csv(base: str, token: str, rows: int) -> float:
    import httpx

    lines = ["email,first_name,last_name,department,location"]
    lines += [
        f"imp{i}@bench.example.com,First{i},Last{i},Dept{i % 20},City{i % 7}" for i in range(rows)
    ]
    data = ("\n".join(lines) + "\n").encode()
    started = time.perf_counter()
    r = httpx.post(
        f"{base}/api/v1/users/import",
        files={"file": ("people.csv", data, "text/csv")},
        headers={"Authorization": f"Bearer {token}"},
        timeout=600,
    )
    elapsed = time.perf_counter() - started
    if r.status_code != 200:
        raise RuntimeError(f"import failed: {r.status_code} {r.text[:300]}")
    print(f"  import: {r.json()['created']} created")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    # Five, not three: on a noisy machine the median of three alternating rounds swung
    # from 0.55 to 0.64 between runs; of five, 0.63 and 0.64.
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--import-rows", type=int, default=50_000)
    args = parser.parse_args()

    with postgres_database(
        VIGIL_LOGIN_LIMIT_PER_IP="1000000/minute", VIGIL_MAX_BODY_BYTES=str(50 * 1024 * 1024)
    ) as env:
        run(args, env)


def run(args: argparse.Namespace, env: dict[str, str]) -> None:
    token, user_id = backend_python(SEED.format(password=PASSWORD), env).split()
    settle(env)
    auth = {"Authorization": f"Bearer {token}"}
    full, bare = [], []
    for round_no in range(args.rounds):
        order = [
            ("main:app", full, f"/api/v1/users/{user_id}", auth),
            ("bench.bare_db_app:app", bare, f"/users/{user_id}", {}),
        ]
        if round_no % 2:
            order.reverse()
        for app, results, path, headers in order:
            with uvicorn(app, env) as server:
                load(server, path, seconds=2, headers=headers)
                results.append(load(server, path, seconds=args.seconds, headers=headers))
    errors = sum(r.errors for r in full + bare)
    f_rate, b_rate = median([r.rate for r in full]), median([r.rate for r in bare])
    f_cpu, b_cpu = (
        median([r.cpu_us_per_request for r in full]),
        median([r.cpu_us_per_request for r in bare]),
    )
    print("Identity on PostgreSQL (app role under row-level security)")
    print(f"  GET /api/v1/users/{{id}} : {f_rate:7.0f} req/s  {f_cpu:5.0f} us CPU/request")
    print(f"  bare FastAPI+SQLAlchemy : {b_rate:7.0f} req/s  {b_cpu:5.0f} us CPU/request")
    print(f"  ratio                   : {f_rate / b_rate:.2f} (goal >= 0.60); errors {errors}")
    with uvicorn("main:app", env) as server:
        lat = wrk_latency(f"{server.base}/api/v1/users?limit=50", auth, args.seconds, 16)
        print(
            f"  GET /users?limit=50 over 10,001 users, 16 connections: "
            f"p50 {lat.get('50')}  p99 {lat.get('99')}  ({lat['rate']} req/s)"
        )
        with ThreadPoolExecutor(1) as pool:
            verify_rate = float(pool.submit(backend_python, VERIFY, env).result())
        rate = login_rate(server.base, args.seconds, 8)
        print(
            f"  login: {rate:.1f}/s through the API; bcrypt cost 12 verifies on one core: "
            f"{verify_rate:.1f}/s (ratio {rate / verify_rate:.2f}; the API hashes in threads)"
        )
        seconds = import_csv(server.base, token, args.import_rows)
        print(f"  CSV import of {args.import_rows} rows: {seconds:.1f} s (goal < 30 s)")


if __name__ == "__main__":
    asyncio.run(asyncio.sleep(0))
    main()
