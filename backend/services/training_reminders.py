"""The training pass: start due campaigns, auto-enroll, plan and send reminders.

Reminders are durable rows (DESIGN.md, "Work that must not be lost"), one per
(enrollment, kind, occurrence) — the unique key makes planning idempotent:

1. **plan** (per active campaign, bound to its company): when a reminder of the schedule
   falls due for an unfinished enrollment, write its row (`pending`, due now). A reminder
   not needed any more is written `skipped` with the reason, so the decision is on record.
   Overdue reminders are planned one occurrence at a time (the current one): after an
   outage the learner gets one overdue reminder, not a burst of the ones missed.
2. **claim** (per company with work due; the company list is the one cross-company query,
   under the read-only `worker_scan` policy): `UPDATE … WHERE id IN (SELECT … FOR UPDATE
   SKIP LOCKED)` sets `sending`, an owner id and a lease, and moves `send_at` to the end of
   the lease — so a worker that dies leaves its rows due again once the lease runs out.
   The same transaction re-checks each row: completed enrollment, archived campaign,
   disabled recipient or no manager → `skipped`.
3. **send** each outside any transaction, then mark it `sent` in a short transaction fenced
   on (status `sending`, same owner): a row re-claimed by another worker is not touched.

A crash between the SMTP server's "250 OK" and the `sent` mark is the one window left:
that reminder (at most one per worker, since marks follow each send) is sent again when
its lease runs out. We chose that over marking before the send, which would lose the
reminder instead; every reminder carries a fixed Message-ID derived from its row id, so the
second copy is recognisable as the same message (and mail systems that de-duplicate by
Message-ID drop it). Rows never sent by the dead worker are sent exactly once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from loguru import logger
from sqlalchemy import CursorResult, and_, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.config import settings
from db.scoping import bind_tenant, worker_scan
from db.session import unit_of_work
from models.base import new_id, utcnow
from models.company import Company
from models.course import Course
from models.enrollment import Enrollment, EnrollmentState
from models.training_campaign import (
    ReminderKind,
    ReminderStatus,
    TrainingCampaign,
    TrainingCampaignStatus,
    TrainingReminder,
)
from models.user import User, UserStatus
from schemas.training_campaign import ReminderSchedule
from services import training_campaigns
from services.email import (
    EmailBackend,
    EmailError,
    PermanentEmailError,
    build_message,
    get_email_backend,
    render_email,
)

R = TrainingReminder
E = Enrollment
C = TrainingCampaign
MAX_ROUNDS = 1000  # claim rounds per pass: a bound, never reached in practice


@dataclass(slots=True)
class PassResult:
    started: int = 0
    enrolled: int = 0
    planned: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


@dataclass(frozen=True, slots=True)
class Claimed:
    id: uuid.UUID
    company_id: uuid.UUID
    attempts: int
    to: str
    template: str
    context: dict[str, Any]


def message_id(reminder_id: uuid.UUID) -> str:
    """Fixed per reminder: a copy sent again after a crash carries the same Message-ID."""
    domain = settings.email_from.rpartition("@")[2].strip(" >").lower() or "localhost"
    return f"<reminder.{reminder_id.hex}@{domain}>"


# --- the pass ---------------------------------------------------------------------------


async def run_pass(
    now: datetime | None = None, *, backend: EmailBackend | None = None
) -> PassResult:
    """Start, reconcile and plan every campaign, then send every reminder due."""
    result = PassResult()
    now = now or utcnow()
    for company_id, campaign_id in await _campaigns_with_work(now):
        try:
            await _run_campaign(company_id, campaign_id, now, result)
        except Exception:
            logger.exception("training campaign {} pass failed", campaign_id)
    await send_due_reminders(now, backend=backend, result=result)
    return result


async def _campaigns_with_work(now: datetime) -> list[tuple[uuid.UUID, uuid.UUID]]:
    async with unit_of_work() as session, worker_scan(session):
        # Across companies on purpose (read-only worker_scan policy): which campaigns to run.
        rows = await session.execute(
            select(C.company_id, C.id).where(
                (C.status == TrainingCampaignStatus.active)
                | ((C.status == TrainingCampaignStatus.scheduled) & (C.starts_at <= now))
            )
        )
        return [(row.company_id, row.id) for row in rows.all()]


async def _run_campaign(
    company_id: uuid.UUID, campaign_id: uuid.UUID, now: datetime, result: PassResult
) -> None:
    async with unit_of_work() as session:
        await bind_tenant(session, company_id)
        campaign = await session.scalar(
            select(C).where(C.company_id == company_id, C.id == campaign_id).with_for_update()
        )
        if campaign is None:
            return
        if campaign.status is TrainingCampaignStatus.scheduled and campaign.starts_at <= now:
            result.enrolled += await training_campaigns.start_campaign(session, campaign, now=now)
            result.started += 1
        elif campaign.status is TrainingCampaignStatus.active and campaign.auto_enroll:
            result.enrolled += await training_campaigns.reconcile_campaign(session, campaign)
        if campaign.status is TrainingCampaignStatus.active:
            result.planned += await plan_reminders(session, campaign, now)


# --- planning ---------------------------------------------------------------------------


def _not_planned(kind: ReminderKind, occurrence: int) -> Any:
    return ~exists().where(
        and_(R.enrollment_id == E.id, R.kind == kind, R.occurrence == occurrence)
    )


def _row(
    campaign: TrainingCampaign,
    enrollment_id: uuid.UUID,
    kind: ReminderKind,
    occurrence: int,
    recipient: uuid.UUID | None,
    now: datetime,
    skipped: str | None = None,
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "company_id": campaign.company_id,
        "campaign_id": campaign.id,
        "enrollment_id": enrollment_id,
        "kind": kind,
        "occurrence": occurrence,
        "recipient_id": recipient,
        "status": ReminderStatus.skipped if skipped else ReminderStatus.pending,
        "send_at": now,
        "attempts": 0,
        "last_error": skipped,
        "created_at": now,
    }


async def plan_reminders(session: AsyncSession, campaign: TrainingCampaign, now: datetime) -> int:
    """Write the rows of the campaign's reminders that have fallen due; returns how many."""
    schedule = ReminderSchedule.model_validate(campaign.reminders)
    unfinished = select(E.id, E.user_id, E.created_at, E.due_at).where(
        E.company_id == campaign.company_id,
        E.training_campaign_id == campaign.id,
        E.state != EnrollmentState.completed,
    )
    rows: list[dict[str, Any]] = []
    if schedule.at_start:
        found = await session.execute(unfinished.where(_not_planned(ReminderKind.at_start, 0)))
        rows += [_row(campaign, e.id, ReminderKind.at_start, 0, e.user_id, now) for e in found]
    for days in schedule.before_due_days:
        window = timedelta(days=days)
        found = await session.execute(
            unfinished.where(
                E.due_at > now,
                E.due_at <= now + window,
                _not_planned(ReminderKind.before_due, days),
            )
        )
        for e in found:
            # Enrolled inside the window: the "assigned" email already said when it is due.
            late = schedule.at_start and e.created_at > e.due_at - window
            reason = "Enrolled after this reminder's time; the start email gave the date."
            rows.append(
                _row(
                    campaign,
                    e.id,
                    ReminderKind.before_due,
                    days,
                    e.user_id,
                    now,
                    reason if late else None,
                )
            )
    if schedule.overdue_every_days is not None:
        every = timedelta(days=schedule.overdue_every_days)
        for k in range(schedule.overdue_max):
            found = await session.execute(
                unfinished.where(
                    E.due_at <= now - k * every,
                    E.due_at > now - (k + 1) * every,
                    _not_planned(ReminderKind.overdue, k),
                )
            )
            rows += [_row(campaign, e.id, ReminderKind.overdue, k, e.user_id, now) for e in found]
    if schedule.escalate_to_manager_after_days is not None:
        rows += await _plan_escalations(
            session,
            campaign,
            unfinished,
            timedelta(days=schedule.escalate_to_manager_after_days),
            now,
        )
    await _insert_ignoring_duplicates(session, rows)
    return len(rows)


async def _plan_escalations(
    session: AsyncSession,
    campaign: TrainingCampaign,
    unfinished: Any,
    after: timedelta,
    now: datetime,
) -> list[dict[str, Any]]:
    found = await session.execute(
        unfinished.add_columns(User.manager_id)
        .join(User, User.id == E.user_id)
        .where(E.due_at <= now - after, _not_planned(ReminderKind.escalation, 0))
    )
    return [
        _row(
            campaign,
            e.id,
            ReminderKind.escalation,
            0,
            e.manager_id,
            now,
            None if e.manager_id else "The learner has no manager on record.",
        )
        for e in found
    ]


async def _insert_ignoring_duplicates(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(R.__table__).on_conflict_do_nothing(
        index_elements=["enrollment_id", "kind", "occurrence"]
    )
    connection = await session.connection()
    for start in range(0, len(rows), 1000):
        await connection.execute(statement, rows[start : start + 1000])


# --- claiming and sending -----------------------------------------------------------------


async def send_due_reminders(
    now: datetime | None = None,
    *,
    backend: EmailBackend | None = None,
    result: PassResult | None = None,
    owner: uuid.UUID | None = None,
) -> PassResult:
    """Claim and send reminders due at `now` until none is left."""
    result = result or PassResult()
    owner = owner or uuid.uuid4()
    backend = backend or get_email_backend()
    for _ in range(MAX_ROUNDS):
        claims = await claim_due(now or utcnow(), owner, settings.training_reminder_batch_size)
        if not claims:
            break
        for claim in claims:
            result.count(await deliver(claim, owner, backend))
    return result


async def claim_due(now: datetime, owner: uuid.UUID, limit: int) -> list[Claimed]:
    """Lease up to `limit` due reminders (spread over the companies that have some)."""
    async with unit_of_work() as session, worker_scan(session):
        # Across companies on purpose (read-only worker_scan policy): only which companies.
        companies = list(
            await session.scalars(
                select(R.company_id)
                .where(
                    R.status.in_((ReminderStatus.pending, ReminderStatus.sending)), R.send_at <= now
                )
                .group_by(R.company_id)
                .limit(limit)
            )
        )
    claims: list[Claimed] = []
    for company_id in companies:
        claims += await _claim(company_id, now, owner, max(1, limit // len(companies)))
    return claims


async def _claim(
    company_id: uuid.UUID, now: datetime, owner: uuid.UUID, limit: int
) -> list[Claimed]:
    async with unit_of_work() as session:
        await bind_tenant(session, company_id)
        lease = now + timedelta(seconds=settings.training_reminder_lease_seconds)
        due = (
            select(R.id)
            .where(
                R.company_id == company_id,
                R.status.in_((ReminderStatus.pending, ReminderStatus.sending)),
                R.send_at <= now,
            )
            .order_by(R.send_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = (
            await session.execute(
                update(R)
                .where(R.id.in_(due.scalar_subquery()))
                .values(
                    status=ReminderStatus.sending,
                    lease_owner=owner,
                    lease_until=lease,
                    # Due again when the lease runs out, should this worker die mid-pass.
                    send_at=lease,
                    attempts=R.attempts + 1,
                )
                .returning(R.id, R.attempts)
                .execution_options(synchronize_session=False)
            )
        ).all()
        if not claimed:
            return []
        attempts = {row.id: row.attempts for row in claimed}
        return await _prepare(session, company_id, owner, attempts, now)


async def _prepare(
    session: AsyncSession,
    company_id: uuid.UUID,
    owner: uuid.UUID,
    attempts: dict[uuid.UUID, int],
    now: datetime,
) -> list[Claimed]:
    """Re-check each claimed reminder and build what its email needs; skip the rest."""
    learner, recipient = aliased(User), aliased(User)
    rows = await session.execute(
        select(R, E, Course.title, learner, recipient, C.status, Company.name)
        .join(E, E.id == R.enrollment_id)
        .join(Course, Course.id == E.course_id)
        .join(learner, learner.id == E.user_id)
        .outerjoin(recipient, recipient.id == R.recipient_id)
        .join(C, C.id == R.campaign_id)
        .join(Company, Company.id == R.company_id)
        .where(R.company_id == company_id, R.id.in_(attempts))
        .execution_options(include_deleted=True)
    )
    claims = []
    for reminder, enrollment, title, person, to, status, company_name in rows.all():
        reason = _skip_reason(reminder, enrollment, to, status, now)
        if reason is not None:
            await _settle(session, reminder.id, owner, ReminderStatus.skipped, reason)
            continue
        claims.append(
            Claimed(
                id=reminder.id,
                company_id=company_id,
                attempts=attempts[reminder.id],
                to=to.email,
                template="training_escalation"
                if reminder.kind is ReminderKind.escalation
                else "training_reminder",
                context={
                    "kind": reminder.kind.value,
                    "learner_name": person.full_name,
                    "learner_email": person.email,
                    "manager_name": to.full_name,
                    "course_title": title,
                    "company_name": company_name,
                    "due_at": enrollment.due_at,
                    "percent": enrollment.percent,
                    "course_url": f"{settings.public_url}/training/{enrollment.id}",
                },
            )
        )
    return claims


def _skip_reason(
    reminder: TrainingReminder,
    enrollment: Enrollment,
    to: User | None,
    status: TrainingCampaignStatus,
    now: datetime,
) -> str | None:
    if enrollment.state is EnrollmentState.completed:
        return "The course was completed."
    if status is TrainingCampaignStatus.archived:
        return "The campaign was archived."
    if to is None or to.is_deleted or to.status is UserStatus.disabled:
        return "The recipient no longer exists or is disabled."
    late_kinds = (ReminderKind.overdue, ReminderKind.escalation)
    if reminder.kind in late_kinds and (enrollment.due_at is None or enrollment.due_at > now):
        return "The due date was moved; the course is no longer overdue."
    return None


async def deliver(claim: Claimed, owner: uuid.UUID, backend: EmailBackend) -> str:
    """Send one claimed reminder and record the outcome; returns it."""
    message = build_message(
        claim.to, render_email(claim.template, claim.context), message_id=message_id(claim.id)
    )
    try:
        await backend.send(message)
    except EmailError as exc:
        return await _record_failure(claim, owner, exc)
    async with unit_of_work() as session:
        await bind_tenant(session, claim.company_id)
        await _settle(session, claim.id, owner, ReminderStatus.sent, None)
    return "sent"


async def _record_failure(claim: Claimed, owner: uuid.UUID, exc: EmailError) -> str:
    give_up = (
        isinstance(exc, PermanentEmailError)
        or claim.attempts >= settings.training_reminder_max_attempts
    )
    delay = settings.training_reminder_retry_seconds * 2 ** min(claim.attempts - 1, 20)
    async with unit_of_work() as session:
        await bind_tenant(session, claim.company_id)
        await _settle(
            session,
            claim.id,
            owner,
            ReminderStatus.failed if give_up else ReminderStatus.pending,
            str(exc)[:500],
            retry_at=None if give_up else utcnow() + timedelta(seconds=delay),
        )
    logger.warning("training reminder {} failed: {}", claim.id, type(exc).__name__)
    return "failed" if give_up else "retry"


async def _settle(
    session: AsyncSession,
    reminder_id: uuid.UUID,
    owner: uuid.UUID | None,
    status: ReminderStatus,
    detail: str | None,
    *,
    retry_at: datetime | None = None,
) -> bool:
    """Record an outcome, only while this worker still holds the claim."""
    now = utcnow()
    values: dict[str, Any] = {"status": status, "lease_until": None, "last_error": detail}
    if status is ReminderStatus.sent:
        values["sent_at"] = now
    if retry_at is not None:
        values["send_at"] = retry_at
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        update(R)
        .where(R.id == reminder_id, R.status == ReminderStatus.sending, R.lease_owner == owner)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)
