"""Webhooks on PostgreSQL, as the app role under row-level security.

1. The cost `emit` adds to a feature's transaction when the company has no endpoint (the
   common case), against the same transaction without it.
2. Delivery throughput of one worker pass loop to a receiver on loopback (uvicorn), for
   a burst of events, signed and pinned as in production.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BACKEND, uvicorn

PG = os.environ.get("BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432")
APP_ROLE = "vigil_bench_app"

SCRIPT = """
import asyncio, time
from sqlalchemy import func, select, text
from db.migrations import migrate
from db.session import unit_of_work, dispose_engine
from db.scoping import bind_tenant
from core.crypto import encrypt_secret
from models.company import Company
from models.webhook import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from services.webhooks import emit
from services.webhook_delivery import SECRET_PURPOSE, deliver_due_webhooks

N, BURST, RECEIVER = {n}, {burst}, "{receiver}"

async def transactions(company_id, with_emit):
    started = time.perf_counter()
    for _ in range(N):
        async with unit_of_work() as s:
            await bind_tenant(s, company_id)
            await s.execute(text("SELECT 1"))
            if with_emit:
                await emit(s, company_id, "phishing.email_opened", {{"recipient_id": "x"}})
    return (time.perf_counter() - started) / N * 1e6

async def main():
    await migrate()
    async with unit_of_work() as s:
        quiet, busy = Company(name="quiet"), Company(name="busy")
        s.add_all([quiet, busy])
        await s.flush()
        quiet_id, busy_id = quiet.id, busy.id
    async with unit_of_work() as s:
        await bind_tenant(s, busy_id)
        s.add(WebhookEndpoint(company_id=busy_id, url=RECEIVER, events=["*"],
              secret_encrypted=encrypt_secret("whsec_bench", purpose=SECRET_PURPOSE),
              consecutive_failures=0))
    await transactions(quiet_id, True)  # warm up
    base, with_emit = [], []
    for _ in range(3):
        base.append(await transactions(quiet_id, False))
        with_emit.append(await transactions(quiet_id, True))
    base.sort(); with_emit.sort()
    print(f"transaction without emit: {{base[1]:.0f}} µs; with emit, no endpoint: "
          f"{{with_emit[1]:.0f}} µs (+{{with_emit[1] - base[1]:.0f}} µs)")
    async with unit_of_work() as s:
        await bind_tenant(s, busy_id)
        started = time.perf_counter()
        for i in range(BURST):
            await emit(s, busy_id, "phishing.link_clicked", {{"n": i}})
        write = time.perf_counter() - started
    print(f"emit with one endpoint: {{write / BURST * 1e6:.0f}} µs per event ({{BURST}} events)")
    started = time.perf_counter()
    while True:
        if not await deliver_due_webhooks():
            async with unit_of_work() as s:
                await bind_tenant(s, busy_id)
                left = await s.scalar(select(func.count()).select_from(WebhookDelivery)
                    .where(WebhookDelivery.status != DeliveryStatus.succeeded))
            if not left:
                break
    elapsed = time.perf_counter() - started
    print(f"delivered {{BURST}} events in {{elapsed:.1f}} s: {{BURST / elapsed:.0f}} deliveries/s")
    await dispose_engine()

asyncio.run(main())
"""


def psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True, capture_output=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transactions", type=int, default=1000)
    parser.add_argument("--burst", type=int, default=2000)
    args = parser.parse_args()
    db = f"vigil_bench_{os.getpid()}"
    psql(f"CREATE DATABASE {db}")
    psql(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') "
        f"THEN CREATE ROLE {APP_ROLE} LOGIN NOBYPASSRLS; END IF; END $$"
    )
    owner_url = f"{PG}/{db}"
    env = {
        "VIGIL_ENV": "production",
        "VIGIL_SECRET_KEY": secrets.token_urlsafe(48),
        "VIGIL_DATABASE_URL": owner_url.replace("postgres@", f"{APP_ROLE}@"),
        "VIGIL_MIGRATION_DATABASE_URL": owner_url,
        "VIGIL_DATABASE_APP_ROLE": APP_ROLE,
        "VIGIL_ALLOW_PRIVATE_NETWORK_TARGETS": "true",  # the receiver is on loopback
        "VIGIL_LOG_LEVEL": "WARNING",
    }
    try:
        with uvicorn("webhook_receiver_app:app", {}, cwd=Path(__file__).resolve().parent) as rx:
            code = SCRIPT.format(n=args.transactions, burst=args.burst, receiver=f"{rx.base}/hook")
            subprocess.run(
                [sys.executable, "-c", code], cwd=BACKEND, env={**os.environ, **env}, check=True
            )
    finally:
        psql(f"DROP DATABASE IF EXISTS {db}")


if __name__ == "__main__":
    main()
