"""Training on PostgreSQL, as the app role under row-level security: assigning a course to
a rule group of 50,000 people through `POST /training-campaigns` (the enrollments are made
in that request), and the learner's `GET /me/enrollments` against a bare FastAPI +
SQLAlchemy single-row read measured in the same run.

Needs the machine's PostgreSQL (127.0.0.1:5432, trust auth, user postgres). Creates and
drops its own database. Goals: 50,000 enrollments in < 15 s; /me/enrollments >= 0.5 of the
bare rate.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import backend_python, load, median, postgres_database, uvicorn

SEED = """
import asyncio, uuid
from sqlalchemy import insert
from db.migrations import migrate
from db.session import unit_of_work, dispose_engine
from db.scoping import bind_tenant
from core.security import create_access_token
from models.base import new_id
from models.company import Company
from models.course import Course, CourseStatus, CourseVersion
from models.group import Group, GroupKind
from models.user import User, Role, UserStatus

async def main():
    await migrate()
    async with unit_of_work() as s:
        c = Company(name="Bench")
        s.add(c); await s.flush()
        await bind_tenant(s, c.id)
        admin = User(company_id=c.id, email="admin@bench.example.com", role=Role.admin,
                     status=UserStatus.active)
        s.add(admin)
        course = Course(company_id=c.id, title="Phishing basics",
                        status=CourseStatus.published, version=1)
        s.add(course); await s.flush()
        s.add(CourseVersion(company_id=c.id, course_id=course.id, version=1,
                            content={{"title": "Phishing basics", "modules": []}}))
        group = Group(company_id=c.id, name="Everyone", kind=GroupKind.rule,
                      rules={{"match": "all", "conditions": [
                          {{"attribute": "department", "operator": "eq", "value": "Staff"}}]}})
        s.add(group); await s.flush()
        rows = [dict(id=new_id(), company_id=c.id, email=f"u{{i}}@bench.example.com",
                     department="Staff", role=Role.learner, status=UserStatus.active,
                     custom_attributes={{}}) for i in range({people})]
        for i in range(0, len(rows), 5000):
            await s.execute(insert(User), rows[i:i+5000])
        admin_token, _ = create_access_token(admin.id, c.id, uuid.uuid4())
        learner_token, _ = create_access_token(rows[123]["id"], c.id, uuid.uuid4())
        print(admin_token, learner_token, course.id, group.id, rows[123]["id"])
    await dispose_engine()
asyncio.run(main())
"""

ANALYZE = """
import asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
import os
async def main():
    engine = create_async_engine(os.environ["BENCH_DATABASE_URL"])
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    await engine.dispose()
asyncio.run(main())
"""


def assign(base: str, token: str, course_id: str, group_id: str) -> tuple[float, int]:
    import httpx

    started = time.perf_counter()
    r = httpx.post(
        f"{base}/api/v1/training-campaigns",
        json={
            "name": "Everyone: phishing basics",
            "course_ids": [course_id],
            "group_ids": [group_id],
            "due_days": 14,
            "reminders": {"at_start": True, "before_due_days": [3], "overdue_every_days": 7},
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=600,
    )
    elapsed = time.perf_counter() - started
    if r.status_code != 201:
        raise RuntimeError(f"assign failed: {r.status_code} {r.text[:300]}")
    return elapsed, int(r.json()["enrolled_count"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with postgres_database() as env:
        run(args, env)


def run(args: argparse.Namespace, env: dict[str, str]) -> None:
    out = backend_python(SEED.format(people=args.people), env).split()
    admin_token, learner_token, course_id, group_id, learner_id = out
    print("Training on PostgreSQL (app role under row-level security)")
    with uvicorn("main:app", env) as server:
        seconds, enrolled = assign(server.base, admin_token, course_id, group_id)
    print(
        f"  assign a course to a rule group of {args.people:,}: {enrolled:,} enrollments "
        f"in {seconds:.1f} s (goal < 15 s)"
    )
    backend_python(ANALYZE, env)
    auth = {"Authorization": f"Bearer {learner_token}"}
    full, bare = [], []
    for round_no in range(args.rounds):
        order = [
            ("main:app", full, "/api/v1/me/enrollments", auth),
            ("bench.bare_db_app:app", bare, f"/users/{learner_id}", {}),
        ]
        if round_no % 2:
            order.reverse()
        for app, results, path, headers in order:
            with uvicorn(app, env) as server:
                load(server, path, seconds=2, headers=headers)
                results.append(load(server, path, seconds=args.seconds, headers=headers))
    errors = sum(r.errors for r in full + bare)
    f_rate, b_rate = median([r.rate for r in full]), median([r.rate for r in bare])
    f_cpu = median([r.cpu_us_per_request for r in full])
    b_cpu = median([r.cpu_us_per_request for r in bare])
    print(f"  GET /api/v1/me/enrollments : {f_rate:7.0f} req/s  {f_cpu:5.0f} us CPU/request")
    print(f"  bare FastAPI+SQLAlchemy    : {b_rate:7.0f} req/s  {b_cpu:5.0f} us CPU/request")
    print(f"  ratio                      : {f_rate / b_rate:.2f} (goal >= 0.50); errors {errors}")


if __name__ == "__main__":
    main()
