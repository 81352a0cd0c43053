"""Durable sending of simulation emails (DESIGN.md, "Work that must not be lost").

Each recipient row written at launch is a send. Workers, any number of them:

1. **claim** due rows in one short transaction: `FOR UPDATE SKIP LOCKED` on PostgreSQL so
   two workers never take the same row, at most what each sending profile's
   messages-per-minute budget allows (the budget lives on the profile row, which the claim
   locks, so it holds across every worker), each with a lease and a per-claim owner id;
2. **send** them over one SMTP connection per profile and batch. Just before handing a
   message's data to the server the worker marks that row `handover` — in the same
   statement that records the previous message's outcome, and while the envelope
   (MAIL FROM, RCPT TO) is on the wire, so it costs no extra round trip. The mark is
   conditional on the row still being claimed by this worker: a send cancelled, paused or
   re-claimed meanwhile is skipped.
3. **recover**: a claimed row whose lease expired is claimed again (its data was never
   handed over). A row left in `handover` by a worker that died is marked `unknown`: the
   server may or may not have it, and sending again could deliver it twice. At most one
   row per connection can end up so.

SMTP replies decide the outcome: 2xx `sent`; 4xx retry later with backoff (up to
`send_max_attempts`); 5xx `failed` with the server's reply; a connection that breaks after
the data was handed over `unknown`. Every message carries a fixed Message-ID chosen at
launch and the report header (`settings.phishing_report_header`) with the recipient's
opaque token, which our report endpoint recognises.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import uuid
from binascii import b2a_qp
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr
from typing import Any

import aiosmtplib
from loguru import logger
from markupsafe import Markup
from sqlalchemy import Uuid, and_, bindparam, exists, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeEngine

from core.config import settings
from core.monitoring import PHISHING_SENDS
from db.scoping import TENANT_SETTING, bind_tenant, worker_access
from db.session import engine, unit_of_work
from models.base import UTCDateTime, utcnow
from models.company import Company
from models.email_template import EmailTemplate
from models.phishing_campaign import (
    CampaignRecipient,
    CampaignStatus,
    PhishingCampaign,
    SendStatus,
)
from models.sending_profile import SendingProfile
from services import phishing_render
from services.email import MAX_DETAIL
from services.sending_profiles import backend_for, check_resolved_host

R = CampaignRecipient
ACTIVE = (CampaignStatus.scheduled, CampaignStatus.running)
RATE_WINDOW = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=6)
_SMTP_BROKEN = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: uuid.UUID
    company_id: uuid.UUID
    campaign_id: uuid.UUID
    sending_profile_id: uuid.UUID
    template_id: uuid.UUID
    email: str
    first_name: str | None
    last_name: str | None
    department: str | None
    job_title: str | None
    token: str
    message_id: str
    attempts: int


@dataclass(slots=True)
class Outcome:
    id: uuid.UUID
    status: SendStatus
    attempts: int
    detail: str | None = None
    at: datetime = field(default_factory=utcnow)

    @classmethod
    def retry(cls, send: Claimed, detail: str) -> Outcome:
        return cls(send.id, SendStatus.pending, send.attempts, detail)


@dataclass(slots=True)
class PassResult:
    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))


# --- links and message ---------------------------------------------------------------


def tracking_urls(token: str) -> dict[str, str]:
    base = settings.tracking_base_url
    return {
        "open": f"{base}/t/o/{token}",
        "click": f"{base}/t/c/{token}",
        "submit": f"{base}/t/s/{token}",
        "report": f"{base}/t/r/{token}",
    }


def template_values(send: Claimed, company_name: str, from_address: str) -> dict[str, Any]:
    urls = tracking_urls(send.token)
    return {
        "first_name": send.first_name or "",
        "last_name": send.last_name or "",
        "email": send.email,
        "title": send.job_title or "",
        "department": send.department or "",
        "company_name": company_name,
        "url": urls["click"],
        "report_url": urls["report"],
        "tracking_pixel": Markup(
            '<img src="{}" width="1" height="1" alt="" style="display:none">'
        ).format(urls["open"]),
        "from": from_address,
    }


_ONE_LINE = str.maketrans({"\r": " ", "\n": " "})


def _header(name: str, value: str) -> str:
    """One header line: plain when it can be, RFC 2047-encoded (and folded) when it holds
    non-ASCII text or is too long for a line."""
    value = value.translate(_ONE_LINE)
    if value.isascii() and len(name) + len(value) < 900:
        return f"{name}: {value}"
    return f"{name}: {Header(value, 'utf-8', header_name=name).encode(linesep=chr(10))}"


def _part(subtype: str, body: str) -> list[str]:
    return [
        f'Content-Type: text/{subtype}; charset="utf-8"',
        "Content-Transfer-Encoding: quoted-printable",
        "",
        b2a_qp(body.encode("utf-8"), istext=True).decode("ascii"),
    ]


def build_message(
    send: Claimed,
    rendered: phishing_render.Rendered,
    *,
    from_address: str,
    headers: dict[str, str],
) -> bytes:
    """The MIME message for one recipient, as bytes: text and HTML parts in
    quoted-printable (as mail clients write them). Written out directly rather than with
    the `email` package, which took ~0.45 ms a message — a fifth of the sending budget at
    a thousand messages a second; tests parse the result with the `email` package."""
    text = rendered.text
    if text is None:  # a text part helps deliverability
        text = "Open this message in an HTML-capable mail reader."
    name = " ".join(p for p in (send.first_name, send.last_name) if p)
    to = formataddr((name, send.email), charset="utf-8") if name else send.email
    lines = [
        _header("From", from_address),
        _header("To", to),
        _header("Subject", rendered.subject),
        f"Date: {formatdate(usegmt=True)}",
        f"Message-ID: {send.message_id}",
        *(_header(header, value) for header, value in headers.items()),
        f"{settings.phishing_report_header}: {send.token}",
        "MIME-Version: 1.0",
    ]
    if rendered.html is None:
        lines += _part("plain", text)
    else:
        boundary = f"=_{secrets.token_hex(16)}"
        lines += [f'Content-Type: multipart/alternative; boundary="{boundary}"', ""]
        lines += [f"--{boundary}", *_part("plain", text)]
        lines += [f"--{boundary}", *_part("html", rendered.html)]
        lines += [f"--{boundary}--", ""]
    return "\n".join(lines).encode("utf-8")


# --- claim -----------------------------------------------------------------------------


def _due(now: datetime) -> Any:
    return or_(
        and_(R.send_status == SendStatus.pending, R.send_at <= now),
        and_(R.send_status == SendStatus.claimed, R.lease_until < now),
    )


async def claim(now: datetime, owner: uuid.UUID, limit: int) -> list[Claimed]:
    """Lease up to `limit` due sends to `owner`, within each profile's rate budget."""
    async with unit_of_work() as session, worker_access(session):
        candidates = (
            await session.execute(
                select(R.id, R.sending_profile_id)
                .join(PhishingCampaign, PhishingCampaign.id == R.campaign_id)
                .where(_due(now), PhishingCampaign.status.in_(ACTIVE))
                .order_by(R.send_at)
                .limit(limit)
                .with_for_update(of=R, skip_locked=True)
            )
        ).all()
        if not candidates:
            return []
        by_profile: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        for row_id, profile_id in candidates:
            by_profile[profile_id].append(row_id)
        chosen: list[uuid.UUID] = []
        for profile_id, ids in by_profile.items():
            profile = (
                await session.execute(
                    select(
                        SendingProfile.messages_per_minute,
                        SendingProfile.rate_window_start,
                        SendingProfile.rate_window_count,
                    )
                    .where(SendingProfile.id == profile_id)
                    .with_for_update()
                    .execution_options(include_deleted=True)
                )
            ).one()
            start, count = profile.rate_window_start, profile.rate_window_count
            if start is None or now - start >= RATE_WINDOW:
                start, count = now, 0
            take = ids[: max(0, profile.messages_per_minute - count)]
            if not take:
                continue
            await session.execute(
                update(SendingProfile)
                .where(SendingProfile.id == profile_id)
                .values(rate_window_start=start, rate_window_count=count + len(take))
                .execution_options(synchronize_session=False)
            )
            chosen += take
        if not chosen:
            return []
        await session.execute(
            update(R)
            .where(R.id.in_(chosen), _due(now))
            .values(
                send_status=SendStatus.claimed,
                lease_owner=owner,
                lease_until=now + timedelta(seconds=settings.send_lease_seconds),
                attempts=R.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        rows = (
            await session.execute(
                select(
                    R.id,
                    R.company_id,
                    R.campaign_id,
                    R.sending_profile_id,
                    R.template_id,
                    R.email,
                    R.first_name,
                    R.last_name,
                    R.department,
                    R.job_title,
                    R.token,
                    R.message_id,
                    R.attempts,
                )
                .where(R.id.in_(chosen), R.lease_owner == owner)
                .order_by(R.send_at)
            )
        ).all()
    return [Claimed(**row._asdict()) for row in rows]


# --- record ----------------------------------------------------------------------------


def _backoff(attempts: int) -> timedelta:
    delay = timedelta(seconds=settings.send_retry_seconds * 2 ** max(0, attempts - 1))
    delay = min(delay, MAX_BACKOFF)
    return delay * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not a secret


def _final(outcome: Outcome) -> Outcome:
    """A retry past the last attempt is a failure."""
    if outcome.status is SendStatus.pending and outcome.attempts >= settings.send_max_attempts:
        return Outcome(
            outcome.id,
            SendStatus.failed,
            outcome.attempts,
            f"gave up after {outcome.attempts} attempts: {outcome.detail}",
            outcome.at,
        )
    return outcome


_TYPES: dict[str, TypeEngine[Any]] = {
    "cur": Uuid(),
    "prev": Uuid(),
    "owner": Uuid(),
    "sent_at": UTCDateTime(),
    "send_at": UTCDateTime(),
}
_MINE = "lease_owner = :owner"
_SETTLE = (
    "send_status = :status, sent_at = COALESCE(:sent_at, sent_at), "
    "send_at = COALESCE(:send_at, send_at), last_error = :error, "
    "lease_owner = NULL, lease_until = NULL"
)
_MARK = (
    text(
        "UPDATE phishing_recipients SET send_status = 'handover' "  # noqa: S608 - constants only
        f"WHERE id = :cur AND {_MINE} AND send_status = 'claimed' RETURNING id"
    )
    .bindparams(*(bindparam(n, type_=_TYPES[n]) for n in ("cur", "owner")))
    .columns(id=Uuid())
)
_RECORD = (
    text(
        f"UPDATE phishing_recipients SET {_SETTLE} "  # noqa: S608 - constants only
        f"WHERE id = :prev AND {_MINE} AND send_status IN ('claimed', 'handover') RETURNING id"
    )
    .bindparams(*(bindparam(n, type_=_TYPES[n]) for n in ("prev", "owner", "sent_at", "send_at")))
    .columns(id=Uuid())
)
_BOTH = (
    text(
        "UPDATE phishing_recipients SET "  # noqa: S608 - constants only
        "send_status = CASE WHEN id = :cur THEN 'handover' ELSE :status END, "
        "sent_at = CASE WHEN id = :cur THEN sent_at ELSE COALESCE(:sent_at, sent_at) END, "
        "send_at = CASE WHEN id = :cur THEN send_at ELSE COALESCE(:send_at, send_at) END, "
        "last_error = CASE WHEN id = :cur THEN last_error ELSE :error END, "
        "lease_owner = CASE WHEN id = :cur THEN lease_owner END, "
        "lease_until = CASE WHEN id = :cur THEN lease_until END "
        f"WHERE {_MINE} AND ((id = :cur AND send_status = 'claimed') "
        "OR (id = :prev AND send_status IN ('claimed', 'handover'))) RETURNING id"
    )
    .bindparams(*(bindparam(n, type_=t) for n, t in _TYPES.items()))
    .columns(id=Uuid())
)


def _settle_params(outcome: Outcome) -> dict[str, Any]:
    sent = outcome.status is SendStatus.sent
    return {
        "prev": outcome.id,
        "status": outcome.status.value,
        "sent_at": outcome.at if sent else None,
        "send_at": (
            outcome.at + _backoff(outcome.attempts)
            if outcome.status is SendStatus.pending
            else None
        ),
        "error": None if sent else ((outcome.detail or "")[:MAX_DETAIL] or None),
    }


# The same three statements in asyncpg's own form, prepared once per connection: on
# PostgreSQL the marks skip SQLAlchemy entirely (its per-statement work was a sixth of
# the CPU time of a send).
_PG_MINE = "lease_owner = $2"
_PG_MARK = (
    "UPDATE phishing_recipients SET send_status = 'handover' "  # noqa: S608 - constants only
    f"WHERE id = $1 AND {_PG_MINE} AND send_status = 'claimed' RETURNING id"
)
_PG_SETTLE = (
    "send_status = $4, sent_at = COALESCE($5, sent_at), send_at = COALESCE($6, send_at), "
    "last_error = $7, lease_owner = NULL, lease_until = NULL"
)
_PG_RECORD = (
    f"UPDATE phishing_recipients SET {_PG_SETTLE} "  # noqa: S608 - constants only
    f"WHERE id = $3 AND {_PG_MINE} AND send_status IN ('claimed', 'handover') "
    "AND $1::uuid IS NULL RETURNING id"
)
_PG_BOTH = (
    "UPDATE phishing_recipients SET "  # noqa: S608 - constants only
    "send_status = CASE WHEN id = $1 THEN 'handover' ELSE $4 END, "
    "sent_at = CASE WHEN id = $1 THEN sent_at ELSE COALESCE($5, sent_at) END, "
    "send_at = CASE WHEN id = $1 THEN send_at ELSE COALESCE($6, send_at) END, "
    "last_error = CASE WHEN id = $1 THEN last_error ELSE $7 END, "
    "lease_owner = CASE WHEN id = $1 THEN lease_owner END, "
    "lease_until = CASE WHEN id = $1 THEN lease_until END "
    f"WHERE {_PG_MINE} AND ((id = $1 AND send_status = 'claimed') "
    "OR (id = $3 AND send_status IN ('claimed', 'handover'))) RETURNING id"
)


class Recorder:
    """Writes outcomes and handover marks on one autocommit connection bound to the
    company: one prepared statement per message."""

    def __init__(self, conn: AsyncConnection, owner: uuid.UUID, raw: Any = None) -> None:
        self.conn = conn
        self.owner = owner
        self.raw = raw  # the asyncpg connection, on PostgreSQL
        self._prepared: dict[str, Any] = {}
        self.counts: dict[str, int] = defaultdict(int)

    async def step(self, outcome: Outcome | None, handover: uuid.UUID | None) -> bool:
        """Record `outcome` (if any) and mark `handover` (if any) in one statement.
        Returns whether the handover mark took (the row is still ours to send)."""
        params: dict[str, Any] = {"owner": self.owner}
        if outcome is not None:
            outcome = _final(outcome)
            self.counts[outcome.status.value] += 1
            PHISHING_SENDS.labels(outcome.status.value).inc()
            params |= _settle_params(outcome)
        if handover is not None:
            params["cur"] = handover
        if outcome is None and handover is None:
            return False
        if self.raw is not None:
            return await self._step_raw(params, both=bool(outcome and handover))
        statement = _BOTH if outcome and handover else _MARK if handover else _RECORD
        result = await self.conn.execute(statement, params)
        return handover is not None and handover in set(result.scalars().all())

    async def _step_raw(self, params: dict[str, Any], *, both: bool) -> bool:
        handover = params.get("cur")
        if both:
            sql = _PG_BOTH
        elif handover is not None:
            sql = _PG_MARK
        else:
            sql = _PG_RECORD
        statement = self._prepared.get(sql)
        if statement is None:
            statement = self._prepared[sql] = await self.raw.prepare(sql)
        if sql == _PG_MARK:
            args: tuple[Any, ...] = (handover, self.owner)
        else:
            args = (
                handover,
                self.owner,
                params["prev"],
                params["status"],
                params["sent_at"],
                params["send_at"],
                params["error"],
            )
        rows = await statement.fetch(*args)
        return handover is not None and any(row[0] == handover for row in rows)


# --- deliver ----------------------------------------------------------------------------


async def _load_context(
    company_id: uuid.UUID, profile_id: uuid.UUID, template_ids: set[uuid.UUID]
) -> tuple[SendingProfile | None, str, dict[uuid.UUID, EmailTemplate]]:
    async with unit_of_work() as session:
        await bind_tenant(session, company_id)
        # Deleted after launch: the campaign still uses what it was launched with.
        profile = await session.scalar(
            select(SendingProfile)
            .where(SendingProfile.company_id == company_id, SendingProfile.id == profile_id)
            .execution_options(include_deleted=True)
        )
        company_name = await session.scalar(select(Company.name).where(Company.id == company_id))
        templates = (
            await session.scalars(
                select(EmailTemplate)
                .where(EmailTemplate.company_id == company_id, EmailTemplate.id.in_(template_ids))
                .execution_options(include_deleted=True)
            )
        ).all()
    return profile, company_name or "", {t.id: t for t in templates}


class _Connection:
    """One SMTP connection, opened on first use and again after it breaks."""

    def __init__(self, profile: SendingProfile) -> None:
        backend = backend_for(profile)
        self.backend = backend
        self.client: aiosmtplib.SMTP | None = None

    async def get(self) -> aiosmtplib.SMTP:
        if self.client is None or not self.client.is_connected:
            b = self.backend
            client = aiosmtplib.SMTP(
                hostname=b.host,
                port=b.port,
                use_tls=b.security == "tls",
                start_tls=b.security == "starttls",
                timeout=b.timeout,
            )
            await client.connect()
            try:
                if b.username:
                    password = b.password.get_secret_value() if b.password else ""
                    await client.login(b.username, password)
            except BaseException:
                client.close()
                raise
            self.client = client
        return self.client

    async def reset(self) -> None:
        if self.client is not None and self.client.is_connected:
            try:
                await self.client.rset()
            except (aiosmtplib.SMTPException, OSError):
                self.drop()

    def drop(self) -> None:
        if self.client is not None:
            self.client.close()
        self.client = None

    async def close(self) -> None:
        if self.client is not None and self.client.is_connected:
            try:
                await self.client.quit()
            except (aiosmtplib.SMTPException, OSError):
                self.client.close()
        self.client = None


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}"


def _outcome_for_reply(send: Claimed, exc: aiosmtplib.SMTPResponseException) -> Outcome:
    if 400 <= exc.code < 500:
        return Outcome.retry(send, _reply(exc))
    return Outcome(send.id, SendStatus.failed, send.attempts, _reply(exc))


async def _envelope(smtp: _Connection, sender: str, recipient: str) -> None:
    client = await smtp.get()
    await client.mail(sender)
    await client.rcpt(recipient)


async def deliver(sends: Sequence[Claimed], owner: uuid.UUID) -> dict[str, int]:
    """Send one company's claimed rows for one profile over `send_connections` SMTP
    connections at once (each with its own database connection for the marks): while one
    waits for the server's reply, the next message is built and sent on another."""
    first = sends[0]
    profile, company_name, templates = await _load_context(
        first.company_id, first.sending_profile_id, {s.template_id for s in sends}
    )
    lanes = [sends[i :: settings.send_connections] for i in range(settings.send_connections)]
    counts: dict[str, int] = defaultdict(int)
    results = await asyncio.gather(
        *(_lane(lane, owner, profile, company_name, templates) for lane in lanes if lane)
    )
    for result in results:
        for status, count in result.items():
            counts[status] += count
    return dict(counts)


async def _lane(
    sends: Sequence[Claimed],
    owner: uuid.UUID,
    profile: SendingProfile | None,
    company_name: str,
    templates: dict[uuid.UUID, EmailTemplate],
) -> dict[str, int]:
    async with engine.connect() as base_conn:
        conn = await base_conn.execution_options(isolation_level="AUTOCOMMIT")
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            # One short commit per message: without waiting for the WAL flush each costs
            # ~0.2 ms instead of ~2 ms. A worker crash loses nothing (the server has it);
            # only a database crash can lose the last fraction of a second of marks, whose
            # rows are then claimed and sent again: a possible duplicate, never a loss.
            await conn.execute(
                text("SELECT set_config(:n, :v, false), set_config(:s, 'off', false)"),
                {"n": TENANT_SETTING, "v": str(sends[0].company_id), "s": "synchronous_commit"},
            )
        raw = None
        if postgres:
            raw = (await conn.get_raw_connection()).driver_connection
        recorder = Recorder(conn, owner, raw)
        try:
            await _deliver(sends, profile, company_name, templates, recorder)
        finally:
            if postgres:  # the connection goes back to the pool: leave nothing behind
                await conn.execute(
                    text("SELECT set_config(:n, '', false), set_config(:s, 'on', false)"),
                    {"n": TENANT_SETTING, "s": "synchronous_commit"},
                )
    return dict(recorder.counts)


async def _deliver(
    sends: Sequence[Claimed],
    profile: SendingProfile | None,
    company_name: str,
    templates: dict[uuid.UUID, EmailTemplate],
    recorder: Recorder,
) -> None:
    if profile is None:
        for send in sends:
            await recorder.step(
                Outcome(send.id, SendStatus.failed, send.attempts, "sending profile not found"),
                None,
            )
        return
    try:
        await check_resolved_host(profile.host, profile.port)
    except Exception as exc:  # any refusal fails these sends with its reason
        reason = getattr(exc, "message", None) or str(exc)
        for send in sends:
            await recorder.step(Outcome(send.id, SendStatus.failed, send.attempts, reason), None)
        return

    compiled = {
        tid: phishing_render.compile_template(t.subject, t.html, t.text)
        for tid, t in templates.items()
    }
    header_templates = {
        name: phishing_render.compile_template(value, None, None)
        for name, value in (profile.headers or {}).items()
    }
    smtp = _Connection(profile)
    previous: Outcome | None = None
    try:
        for index, send in enumerate(sends):
            template = templates.get(send.template_id)
            try:
                if template is None:
                    raise LookupError("template not found")
                values = template_values(send, company_name, profile.from_address)
                rendered = phishing_render.render_compiled(compiled[send.template_id], values)
                headers = {
                    name: phishing_render.render_compiled(h, values).subject
                    for name, h in header_templates.items()
                }
                data = build_message(
                    send, rendered, from_address=profile.from_address, headers=headers
                )
            except Exception as exc:  # a bad template or value fails this one
                await recorder.step(previous, None)
                previous = Outcome(
                    send.id, SendStatus.failed, send.attempts, f"could not render: {exc}"
                )
                continue
            sender = parseaddr(template.envelope_sender or profile.from_address)[1]
            envelope = asyncio.ensure_future(_envelope(smtp, sender, send.email))
            try:
                marked = await recorder.step(previous, send.id)
            except BaseException:
                envelope.cancel()
                raise
            previous = None
            try:
                await envelope
            except aiosmtplib.SMTPResponseException as exc:
                previous = _outcome_for_reply(send, exc)
                await smtp.reset()
                continue
            except (*_SMTP_BROKEN, aiosmtplib.SMTPException) as exc:
                # Nothing handed over yet: this and the rest can be tried again later.
                smtp.drop()
                reason = f"connection failed: {exc}"
                await recorder.step(Outcome.retry(send, reason) if marked else None, None)
                for rest in sends[index + 1 :]:
                    await recorder.step(Outcome.retry(rest, reason), None)
                return
            if not marked:  # cancelled, paused or taken over meanwhile
                await smtp.reset()
                continue
            try:
                client = await smtp.get()
                response = await client.data(data)
                previous = Outcome(send.id, SendStatus.sent, send.attempts, str(response))
            except aiosmtplib.SMTPResponseException as exc:
                previous = _outcome_for_reply(send, exc)
            except _SMTP_BROKEN as exc:
                smtp.drop()
                previous = Outcome(
                    send.id,
                    SendStatus.unknown,
                    send.attempts,
                    f"connection lost during the message data: {exc}",
                )
        await recorder.step(previous, None)
    finally:
        await smtp.close()


# --- housekeeping ------------------------------------------------------------------------


async def housekeeping(now: datetime) -> None:
    """Start scheduled campaigns, settle sends whose worker died mid-handover, and complete
    campaigns whose last send is `complete_after_days` old."""
    async with unit_of_work() as session, worker_access(session):
        stale = await session.scalar(
            select(func.count())
            .select_from(R)
            .where(R.send_status == SendStatus.handover, R.lease_until < now)
        )
        if stale:
            await session.execute(
                update(R)
                .where(R.send_status == SendStatus.handover, R.lease_until < now)
                .values(
                    send_status=SendStatus.unknown,
                    last_error="the worker stopped while handing this message over; "
                    "it may or may not have been delivered",
                    lease_owner=None,
                    lease_until=None,
                )
                .execution_options(synchronize_session=False)
            )
            PHISHING_SENDS.labels(SendStatus.unknown.value).inc(stale)
        starting = await session.scalar(
            select(func.count())
            .select_from(PhishingCampaign)
            .where(
                PhishingCampaign.status == CampaignStatus.scheduled,
                PhishingCampaign.launch_at <= now,
            )
        )
        if starting:
            await session.execute(
                update(PhishingCampaign)
                .where(
                    PhishingCampaign.status == CampaignStatus.scheduled,
                    PhishingCampaign.launch_at <= now,
                )
                .values(status=CampaignStatus.running)
                .execution_options(synchronize_session=False)
            )
        unfinished = exists().where(
            R.campaign_id == PhishingCampaign.id,
            R.send_status.in_((SendStatus.pending, SendStatus.claimed, SendStatus.handover)),
        )
        last_send = (
            select(func.max(R.sent_at)).where(R.campaign_id == PhishingCampaign.id)
        ).scalar_subquery()
        done = (
            await session.execute(
                select(
                    PhishingCampaign.id,
                    PhishingCampaign.complete_after_days,
                    PhishingCampaign.launched_at,
                    last_send,
                ).where(PhishingCampaign.status == CampaignStatus.running, ~unfinished)
            )
        ).all()
        for campaign_id, days, launched_at, last in done:
            reference = last or launched_at or now
            if reference + timedelta(days=days) <= now:
                await session.execute(
                    update(PhishingCampaign)
                    .where(
                        PhishingCampaign.id == campaign_id,
                        PhishingCampaign.status == CampaignStatus.running,
                    )
                    .values(status=CampaignStatus.completed, completed_at=now)
                    .execution_options(synchronize_session=False)
                )


# --- the loop -------------------------------------------------------------------------------


async def run_pass(limit: int | None = None) -> PassResult:
    """One pass: housekeeping, then claim and send what is due, until nothing is."""
    result = PassResult()
    await housekeeping(utcnow())
    while True:
        owner = uuid.uuid4()
        sends = await claim(utcnow(), owner, limit or settings.send_batch_size)
        if not sends:
            return result
        result.claimed += len(sends)
        groups: dict[tuple[uuid.UUID, uuid.UUID], list[Claimed]] = defaultdict(list)
        for send in sends:
            groups[(send.company_id, send.sending_profile_id)].append(send)
        for group in groups.values():
            try:
                counts = await deliver(group, owner)
            except Exception:
                # The leases expire and the rows are claimed again (or settled as unknown).
                logger.exception("phishing send batch failed")
                continue
            for status, count in counts.items():
                result.outcomes[status] += count
