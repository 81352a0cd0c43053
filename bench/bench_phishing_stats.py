"""Campaign stats on PostgreSQL: a campaign of 100,000 recipients and 300,000 events.

Seeds the rows with `INSERT … SELECT generate_series` as the owner, then, as the app role
under row-level security, times `services.phishing_results.campaign_stats` (median and p90
of N calls in one process) and, through uvicorn, `GET /phishing/campaigns/{id}/stats`
(one request at a time, so latency = 1 ÷ rate; then four connections, for throughput).
Goal: under 100 ms per request.

Needs the machine's PostgreSQL (127.0.0.1:5432, trust auth, user postgres). Creates and
drops its own database.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SERVER_CPU, backend_python, load, postgres_database, settle, uvicorn

SEED = """
import asyncio, uuid
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from core.config import settings
from core.security import create_access_token
from db.migrations import migrate
from db.scoping import bind_tenant
from db.session import unit_of_work, dispose_engine
from models.company import Company
from models.email_template import EmailTemplate
from models.phishing_campaign import CampaignStatus, PhishingCampaign
from models.sending_profile import SendingProfile, SmtpSecurity
from models.user import Role, User, UserStatus

RECIPIENTS = {recipients}
EVENTS = {events}

SQL = [
    # People: ten departments.
    '''INSERT INTO users (id, company_id, email, first_name, last_name, department, role,
           status, custom_attributes, created_at, updated_at)
       SELECT gen_random_uuid(), CAST(:company AS uuid), 'p' || g || '@bench.example.com',
              'First' || g, 'Last' || g, 'Dept' || (g % 10), 'learner', 'active', '{{}}',
              now(), now()
       FROM generate_series(1, :n) g''',
    # One recipient each, sent an hour or so ago: 97 % sent, 2 % failed, 1 % unknown;
    # 40 % opened, 15 % clicked, 5 % submitted, 10 % reported.
    '''INSERT INTO phishing_recipients (id, company_id, campaign_id, user_id,
           sending_profile_id, template_id, email, first_name, last_name, department,
           job_title, timezone, token, message_id, send_status, send_at, attempts, sent_at,
           opened_at, clicked_at, submitted_at, reported_at)
       SELECT gen_random_uuid(), u.company_id, CAST(:campaign AS uuid), u.id,
              CAST(:profile AS uuid), CAST(:template AS uuid), u.email,
              u.first_name, u.last_name, u.department, NULL, 'UTC', md5(u.id::text),
              '<' || u.id || '@bench.example.com>',
              CASE WHEN n % 100 < 97 THEN 'sent' WHEN n % 100 < 99 THEN 'failed'
                   ELSE 'unknown' END,
              now() - interval '2 hours', 1,
              CASE WHEN n % 100 < 97 THEN now() - interval '2 hours' END,
              CASE WHEN n % 100 < 40 THEN now() - interval '2 h' + (n % 3600) * interval '1 s' END,
              CASE WHEN n % 100 < 15 THEN now() - interval '2 h' + (n % 3000) * interval '1 s' END,
              CASE WHEN n % 100 < 5 THEN now() - interval '2 h' + (n % 3100) * interval '1 s' END,
              CASE WHEN n % 100 >= 85 AND n % 100 < 95
                   THEN now() - interval '2 h' + (n % 5000) * interval '1 s' END
       FROM (SELECT id, company_id, email, first_name, last_name, department,
                    row_number() OVER (ORDER BY id) AS n FROM users
             WHERE company_id = CAST(:company AS uuid) AND role = 'learner') u''',
    # Three events per recipient on average; one in twenty suspected automated.
    '''INSERT INTO phishing_events (id, company_id, campaign_id, recipient_id, type,
           occurred_at, ip, user_agent, details, automated, automation_reason)
       SELECT gen_random_uuid(), CAST(:company AS uuid), CAST(:campaign AS uuid), r.id,
              (ARRAY['opened', 'clicked', 'submitted', 'reported'])[1 + g % 4],
              now() - interval '1 hour', '198.51.100.7', 'Mozilla/5.0', '{{}}',
              g % 20 = 0,
              CASE WHEN g % 20 = 0 THEN (ARRAY['scanner user agent', 'HEAD request',
                   'within 2 s of delivery'])[1 + g % 3] END
       FROM generate_series(0, :events - 1) g
       JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM phishing_recipients
             WHERE campaign_id = CAST(:campaign AS uuid)) r ON r.n = g % :n''',
]

async def main():
    await migrate()
    async with unit_of_work() as s:
        c = Company(name="Bench Corp", default_timezone="UTC")
        s.add(c); await s.flush()
        await bind_tenant(s, c.id)
        admin = User(company_id=c.id, email="admin@bench.example.com", role=Role.admin,
                     status=UserStatus.active)
        p = SendingProfile(company_id=c.id, name="relay", host="127.0.0.1", port=25,
                           security=SmtpSecurity.none, from_address="it@bench.example.com",
                           headers={{}}, messages_per_minute=1000)
        t = EmailTemplate(company_id=c.id, name="lure", subject="Hi", html="<p>Hi</p>",
                          text="Hi", red_flags=[])
        s.add_all([admin, p, t]); await s.flush()
        campaign = PhishingCampaign(company_id=c.id, name="stats", template_ids=[str(t.id)],
                                    sending_profile_id=p.id, group_ids=[], user_ids=[],
                                    status=CampaignStatus.running,
                                    recipient_count=RECIPIENTS)
        s.add(campaign); await s.flush()
        ids = dict(company=c.id, campaign=campaign.id, profile=p.id, template=t.id)
        admin_id = admin.id
    owner = create_async_engine("{owner_url}")
    async with owner.begin() as conn:
        for sql in SQL:
            await conn.execute(text(sql), {{**ids, "n": RECIPIENTS, "events": EVENTS}})
    await owner.dispose()
    token, _ = create_access_token(admin_id, ids["company"], uuid.uuid4())
    print(ids["company"], ids["campaign"], admin_id, token)
    await dispose_engine()
asyncio.run(main())
"""

MEASURE = """
import asyncio, time, uuid
from db.scoping import AuthContext, bind_tenant
from db.session import unit_of_work, dispose_engine
from models.user import Role
from services.phishing_results import campaign_stats

async def main():
    company, campaign, admin = (uuid.UUID(x) for x in "{ids}".split())
    auth = AuthContext(company_id=company, role=Role.admin, user_id=admin)
    times = []
    for i in range({calls} + 3):
        start = time.perf_counter()
        async with unit_of_work() as s:
            await bind_tenant(s, company)
            stats = await campaign_stats(s, auth, campaign)
        if i >= 3:  # warm-up: connection, statement and plan caches
            times.append(time.perf_counter() - start)
    times.sort()
    print(times[len(times) // 2] * 1000, times[int(len(times) * 0.9)] * 1000)
    print(stats.model_dump_json())
    await dispose_engine()
asyncio.run(main())
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with postgres_database() as env:
        seed = SEED.format(
            recipients=args.recipients, events=args.events, owner_url=env["BENCH_DATABASE_URL"]
        )
        company, campaign, admin, token = backend_python(seed, env).split()
        settle(env)
        out = backend_python(
            MEASURE.format(ids=f"{company} {campaign} {admin}", calls=args.calls),
            env,
            cpu=SERVER_CPU,
        ).splitlines()
        p50, p90 = (float(x) for x in out[0].split())
        print(
            f"Campaign stats on PostgreSQL, app role under RLS: {args.recipients:,} recipients, "
            f"{args.events:,} events"
        )
        print(
            f"  service call: median {p50:.1f} ms, p90 {p90:.1f} ms over {args.calls} calls "
            "(goal < 100 ms)"
        )
        print(f"  stats: {out[1]}")
        with uvicorn("main:app", env) as server:
            headers = {"Authorization": f"Bearer {token}"}
            path = f"/api/v1/phishing/campaigns/{campaign}/stats"
            load(server, path, seconds=2, connections=1, headers=headers)  # warm-up
            single = load(server, path, seconds=args.seconds, connections=1, headers=headers)
            four = load(server, path, seconds=args.seconds, connections=4, headers=headers)
        latency = 1000 / single.rate if single.rate else float("nan")
        print(
            f"  GET …/stats through uvicorn, one at a time: {latency:.1f} ms each "
            f"({single.rate:.1f} req/s, {single.errors} errors; goal < 100 ms)"
        )
        print(
            f"  GET …/stats through uvicorn, 4 connections: {four.rate:.1f} req/s, "
            f"{four.errors} errors (the server and PostgreSQL share two cores)"
        )


if __name__ == "__main__":
    main()
