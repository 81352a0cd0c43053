"""Phishing campaigns on PostgreSQL: launching 100,000 recipients, and sending throughput
to an SMTP sink on loopback against a bare aiosmtplib loop sending the same messages.

Needs the machine's PostgreSQL (127.0.0.1:5432, trust auth, user postgres). Creates and
drops its own database. Goals: launch (send rows written) < 15 s; sending >= 0.7 of the
bare loop's rate.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SERVER_CPU, backend_python, postgres_database, smtp_sink

SEED = """
import asyncio, uuid
from sqlalchemy import insert
from db.migrations import migrate
from db.scoping import AuthContext, RequestMeta, bind_tenant
from db.session import unit_of_work, dispose_engine
from models.base import new_id
from models.company import Company
from models.email_template import EmailTemplate
from models.group import Group, GroupKind
from models.sending_profile import SendingProfile, SmtpSecurity
from models.user import User, Role, UserStatus

async def main():
    await migrate()
    async with unit_of_work() as s:
        c = Company(name="Bench Corp", default_timezone="Europe/Paris")
        s.add(c); await s.flush()
        await bind_tenant(s, c.id)
        admin = User(company_id=c.id, email="admin@bench.example.com", role=Role.admin,
                     status=UserStatus.active)
        s.add(admin)
        for dept, n in (("Bench", {launch}), ("Send", {send})):
            rows = [dict(id=new_id(), company_id=c.id, email=f"{{dept}}{{i}}@bench.example.com",
                         first_name=f"First{{i}}", last_name=f"Last{{i}}", department=dept,
                         job_title="Analyst", role=Role.learner, status=UserStatus.active,
                         custom_attributes={{}}) for i in range(n)]
            for i in range(0, len(rows), 5000):
                await s.execute(insert(User), rows[i:i+5000])
        groups = []
        for dept in ("Bench", "Send"):
            g = Group(company_id=c.id, name=dept, kind=GroupKind.rule, rules={{
                "match": "all",
                "conditions": [{{"attribute": "department", "operator": "eq", "value": dept}}]}})
            s.add(g); groups.append(g)
        p = SendingProfile(company_id=c.id, name="sink", host="127.0.0.1", port={port},
                           security=SmtpSecurity.none, from_address="IT <it@bench.example.com>",
                           headers={{}}, messages_per_minute=1000000)
        t = EmailTemplate(company_id=c.id, name="lure",
                          subject="{{{{ first_name }}}}, action needed",
                          html="<p>Hi {{{{ first_name }}}} {{{{ last_name }}}}</p>"
                               "<p><a href='{{{{ url }}}}'>Open</a></p>{{{{ tracking_pixel }}}}",
                          text="Hi {{{{ first_name }}}}: {{{{ url }}}}", red_flags=[])
        s.add_all([p, t]); await s.flush()
        print(c.id, admin.id, groups[0].id, groups[1].id, p.id, t.id)
    await dispose_engine()
asyncio.run(main())
"""

LAUNCH = """
import asyncio, time, uuid
from datetime import UTC, datetime, timedelta
from db.scoping import AuthContext, RequestMeta, bind_tenant
from db.session import unit_of_work, dispose_engine
from models.phishing_campaign import PhishingCampaign
from models.user import Role
from services import phishing_campaigns

async def main():
    company, admin, group, profile, template = (uuid.UUID(x) for x in "{ids}".split())
    auth = AuthContext(company_id=company, role=Role.admin, user_id=admin)
    async with unit_of_work() as s:
        await bind_tenant(s, company)
        c = PhishingCampaign(company_id=company, name="launch", template_ids=[str(template)],
                             sending_profile_id=profile, group_ids=[str(group)], user_ids=[],
                             send_window_minutes={window}, complete_after_days=7)
        s.add(c); await s.flush(); cid = c.id
    start = time.perf_counter()
    async with unit_of_work() as s:
        await bind_tenant(s, company)
        c = await phishing_campaigns.launch_campaign(s, auth, cid, meta=RequestMeta(),
                                                     launch_at={launch_at})
        n = c.recipient_count
    print(n, time.perf_counter() - start)
    await dispose_engine()
asyncio.run(main())
"""

SEND = """
import asyncio, time, uuid
import aiosmtplib
from services import phishing_sender
from services.phishing_render import compile_template, render_compiled
from db.session import dispose_engine

async def bare(messages):
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port={port}, start_tls=False)
    await smtp.connect()
    start = time.perf_counter()
    for rcpt, data in messages:
        await smtp.mail("it@bench.example.com")
        await smtp.rcpt(rcpt)
        await smtp.data(data)
    elapsed = time.perf_counter() - start
    await smtp.quit()
    return elapsed

async def main():
    # The bare loop sends the very messages Vigil builds, pre-rendered.
    compiled = compile_template("{{{{ first_name }}}}, action needed",
        "<p>Hi {{{{ first_name }}}} {{{{ last_name }}}}</p><p><a href='{{{{ url }}}}'>Open</a></p>"
        "{{{{ tracking_pixel }}}}", "Hi {{{{ first_name }}}}: {{{{ url }}}}")
    messages = []
    for i in range({send}):
        send = phishing_sender.Claimed(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(),
            uuid.uuid4(), f"bare{{i}}@bench.example.com", f"First{{i}}", f"Last{{i}}", "Send",
            "Analyst", "tok" * 8, f"<{{uuid.uuid4().hex}}@bench.example.com>", 1)
        values = phishing_sender.template_values(send, "Bench Corp", "IT <it@bench.example.com>")
        msg = phishing_sender.build_message(send, render_compiled(compiled, values),
                                            from_address="IT <it@bench.example.com>", headers={{}})
        messages.append((send.email, msg))
    bare_seconds = await bare(messages)
    start = time.perf_counter()
    sent = 0
    while True:
        result = await phishing_sender.run_pass()
        sent += result.outcomes.get("sent", 0)
        if not result.claimed:
            break
    vigil_seconds = time.perf_counter() - start
    print({send} / bare_seconds, sent / vigil_seconds, sent)
    await dispose_engine()
asyncio.run(main())
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--launch", type=int, default=100_000)
    parser.add_argument("--send", type=int, default=5_000)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        smtp_sink(Path(tmp)) as sink,
        postgres_database(VIGIL_ALLOW_PRIVATE_NETWORK_TARGETS="true") as env,
    ):
        seed = SEED.format(launch=args.launch, send=args.send, port=sink.port)
        company, admin, big, small, profile, template = backend_python(seed, env).split()
        ids = " ".join((company, admin, big, profile, template))
        launch = LAUNCH.format(
            ids=ids, window=60 * 24, launch_at="datetime.now(UTC) + timedelta(days=1)"
        )
        count, seconds = backend_python(launch, env, cpu=SERVER_CPU).split()
        print("Phishing campaigns on PostgreSQL (app role under row-level security)")
        print(
            f"  launch of {int(count):,} recipients (rule group, 24 h window): "
            f"{float(seconds):.1f} s (goal < 15 s)"
        )
        ids = " ".join((company, admin, small, profile, template))
        launch = LAUNCH.format(ids=ids, window=0, launch_at="None")
        backend_python(launch, env, cpu=SERVER_CPU)
        out = backend_python(SEND.format(port=sink.port, send=args.send), env, cpu=SERVER_CPU)
        bare_rate, vigil_rate, sent = out.split()
        ratio = float(vigil_rate) / float(bare_rate)
        print(
            f"  sending {int(sent):,} emails to an SMTP sink: {float(vigil_rate):.0f}/s; bare "
            f"aiosmtplib loop, same messages: {float(bare_rate):.0f}/s; ratio {ratio:.2f} "
            "(goal >= 0.7)"
        )
        received = sum(sink.counts().values())
        print(f"  the sink received {received:,} messages ({args.send:,} bare + {sent} Vigil)")


if __name__ == "__main__":
    main()
