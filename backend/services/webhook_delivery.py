"""Sending webhook deliveries: claim due rows with a lease, POST them signed, record the
outcome, retry with backoff, and disable endpoints that keep failing.

A pass (`deliver_due_webhooks`) runs from the worker's polling loop and from the nudge sent
after each commit that wrote deliveries:

1. find the companies with work due (the one cross-company query, under the read-only
   `worker_scan` policy on PostgreSQL);
2. per company, bound to it, claim due rows — `UPDATE … WHERE id IN (SELECT … FOR UPDATE
   SKIP LOCKED)` on PostgreSQL, the same statement without the lock clause on SQLite, whose
   single writer makes it atomic — setting `status = delivering` and a lease; a row whose
   lease runs out (a worker died mid-send) is due again and claimed by the next pass;
3. POST each outside any transaction, then record the outcome in a short transaction that
   only applies if this worker still holds the claim (same `attempts` value).

Receivers must therefore expect an event more than once (rarely): `Vigil-Webhook-Id` is the
event id, the same on every attempt.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from loguru import logger
from sqlalchemy import CursorResult, Row, Update, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import settings
from core.crypto import DecryptionError, decrypt_secret
from core.monitoring import WEBHOOK_ATTEMPTS, WEBHOOK_DURATION, WEBHOOK_ENDPOINTS_DISABLED
from core.outbound import (
    TargetRefused,
    TargetUnresolvable,
    checked_address,
    host_header,
    pinned_url,
)
from db.scoping import bind_tenant, worker_scan
from db.session import unit_of_work
from models.base import utcnow
from models.user import Role, User, UserStatus
from models.webhook import OPEN_STATUSES, DeliveryStatus, WebhookDelivery, WebhookEndpoint
from services import audit
from services.email import send_after_commit

SECRET_PURPOSE = "webhook-secret"  # noqa: S105 - a key-derivation purpose name
USER_AGENT = "Vigil-Webhooks/1"
PASS_SIZE = 50  # deliveries claimed per pass, across companies
CONCURRENCY = 10  # requests in flight per pass
EXCERPT_CHARS = 300
_READ_BYTES = 2048

D = WebhookDelivery
E = WebhookEndpoint


@dataclass(frozen=True, slots=True)
class Claim:
    id: uuid.UUID
    company_id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    attempts: int  # the fence: the outcome is recorded only while this is still the claim
    url: str
    secret: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str | None
    refused: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of `<timestamp>.<body>` keyed with the endpoint's secret."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def lease_seconds() -> float:
    # Longer than a whole pass can take: PASS_SIZE / CONCURRENCY rounds of one timeout each.
    return settings.webhook_timeout_seconds * (PASS_SIZE // CONCURRENCY + 1) + 30


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones: doubling, capped, ±25 %."""
    delay: float = settings.webhook_retry_base_seconds * 2.0 ** min(attempts - 1, 30)
    return min(delay, settings.webhook_retry_max_seconds) * random.uniform(0.75, 1.25)  # noqa: S311


# --- one pass ---


async def deliver_due_webhooks() -> int:
    """Claim and send what is due now; returns how many deliveries were attempted."""
    companies = await _companies_with_due_work(utcnow())
    if not companies:
        return 0
    share = max(1, PASS_SIZE // len(companies))
    claims: list[Claim] = []
    for company_id in companies:
        claims += await _claim(company_id, share)
        if len(claims) >= PASS_SIZE:
            break
    if claims:
        await _send_all(claims)
    return len(claims)


async def _companies_with_due_work(now: datetime) -> list[uuid.UUID]:
    async with unit_of_work() as session, worker_scan(session):
        # Across companies on purpose (the read-only worker_scan policy on PostgreSQL):
        # only which companies have work due, oldest first; the claim runs per company.
        rows = await session.scalars(
            select(D.company_id)
            .where(D.status.in_(OPEN_STATUSES), D.next_attempt_at <= now)
            .group_by(D.company_id)
            .order_by(func.min(D.next_attempt_at))
            .limit(PASS_SIZE)
        )
        return list(rows)


async def _claim(company_id: uuid.UUID, limit: int) -> list[Claim]:
    async with unit_of_work() as session:
        await bind_tenant(session, company_id)
        now = utcnow()
        lease = now + timedelta(seconds=lease_seconds())
        due = (
            select(D.id)
            .where(
                D.company_id == company_id,
                D.status.in_(OPEN_STATUSES),
                D.next_attempt_at <= now,
            )
            .order_by(D.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = (
            await session.execute(
                update(D)
                .where(D.id.in_(due.scalar_subquery()))
                .values(
                    status=DeliveryStatus.delivering,
                    lease_until=lease,
                    # Due again when the lease runs out, should this worker die mid-send.
                    next_attempt_at=lease,
                    attempts=D.attempts + 1,
                    last_attempt_at=now,
                    updated_at=now,
                )
                .returning(D.id, D.endpoint_id, D.event_id, D.payload, D.attempts)
                .execution_options(synchronize_session=False)
            )
        ).all()
        if not claimed:
            return []
        return await _claims_for(session, company_id, claimed, now)


async def _claims_for(
    session: AsyncSession, company_id: uuid.UUID, claimed: Sequence[Row[Any]], now: datetime
) -> list[Claim]:
    endpoint_ids = {row.endpoint_id for row in claimed}
    endpoints = {
        e.id: e
        for e in await session.scalars(
            select(E)
            .where(E.company_id == company_id, E.id.in_(endpoint_ids))
            .execution_options(include_deleted=True)
        )
    }
    claims = []
    for row in claimed:
        endpoint = endpoints.get(row.endpoint_id)
        reason = None
        if endpoint is None or endpoint.is_deleted:
            reason = "The endpoint was deleted."
        elif not endpoint.active:
            reason = "The endpoint is disabled."
        else:
            try:
                secret = decrypt_secret(endpoint.secret_encrypted, purpose=SECRET_PURPOSE)
            except DecryptionError:
                reason = "The signing secret cannot be read; rotate it."
        if reason is not None:
            await _abandon_unsent(session, row.id, row.attempts, reason, now)
            continue
        assert endpoint is not None  # noqa: S101 - narrowed by the checks above
        claims.append(
            Claim(
                id=row.id,
                company_id=company_id,
                endpoint_id=row.endpoint_id,
                event_id=row.event_id,
                attempts=row.attempts,
                url=endpoint.url,
                secret=secret,
                body=orjson.dumps(row.payload),
            )
        )
    return claims


async def _abandon_unsent(
    session: AsyncSession, delivery_id: uuid.UUID, attempts: int, reason: str, now: datetime
) -> None:
    await session.execute(
        update(D)
        .where(D.id == delivery_id)
        .values(
            status=DeliveryStatus.abandoned,
            attempts=attempts - 1,  # claimed, but never tried
            lease_until=None,
            last_error=reason,
            completed_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


async def _send_all(claims: list[Claim]) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)
    # No keep-alive: requests go to pinned IPs, and a pooled TLS connection opened for one
    # host name must never carry a request meant for another name on the same address.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(follow_redirects=False, limits=limits) as client:

        async def one(claim: Claim) -> None:
            async with gate:
                try:
                    outcome = await post(client, claim)
                    await _record(claim, outcome)
                except Exception:
                    # The lease runs out and the next pass tries again.
                    logger.exception("webhook delivery {} failed unexpectedly", claim.id)

        await asyncio.gather(*(one(claim) for claim in claims))


# --- the request ---


async def post(client: httpx.AsyncClient, claim: Claim) -> Outcome:
    """POST the claim's body, signed, to the checked address; never follows a redirect."""
    parts = urlsplit(claim.url)
    host = parts.hostname or ""
    try:
        address = await checked_address(
            host, parts.port or (443 if parts.scheme == "https" else 80)
        )
    except TargetRefused:
        return Outcome(None, "Refused: the address is on a private or reserved network.", True)
    except TargetUnresolvable:
        return Outcome(None, f"The host '{host}' could not be resolved.")
    pinned, server_name = pinned_url(claim.url, address)
    timestamp = int(time.time())
    headers = {
        "Host": host_header(claim.url),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Vigil-Webhook-Id": str(claim.event_id),
        "Vigil-Webhook-Timestamp": str(timestamp),
        "Vigil-Signature": signature_header(claim.secret, timestamp, claim.body),
    }
    request = client.build_request(
        "POST",
        pinned,
        content=claim.body,
        headers=headers,
        extensions={"sni_hostname": server_name},
    )
    started = time.perf_counter()
    try:
        async with asyncio.timeout(settings.webhook_timeout_seconds):
            response = await client.send(request, stream=True)
            try:
                excerpt = "" if response.is_success else await _excerpt(response)
            finally:
                await response.aclose()
    except TimeoutError:
        return Outcome(None, f"No answer within {settings.webhook_timeout_seconds:g} s.")
    except httpx.HTTPError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}"[:EXCERPT_CHARS])
    finally:
        WEBHOOK_DURATION.observe(time.perf_counter() - started)
    if response.is_success:
        return Outcome(response.status_code, None)
    return Outcome(response.status_code, f"HTTP {response.status_code}: {excerpt}".strip())


async def _excerpt(response: httpx.Response) -> str:
    """The start of the answer, for diagnosis; the rest is never read."""
    data = b""
    async for chunk in response.aiter_raw():
        data += chunk
        if len(data) >= _READ_BYTES:
            break
    text = " ".join(data.decode("utf-8", errors="replace").split())
    return text[:EXCERPT_CHARS]


# --- recording the outcome ---


async def _record(claim: Claim, outcome: Outcome) -> None:
    async with unit_of_work() as session:
        await bind_tenant(session, claim.company_id)
        now = utcnow()
        if outcome.ok:
            await _record_success(session, claim, outcome, now)
        else:
            await _record_failure(session, claim, outcome, now)


def _fenced(claim: Claim) -> Update:
    return (
        update(D)
        .where(
            D.id == claim.id, D.status == DeliveryStatus.delivering, D.attempts == claim.attempts
        )
        .execution_options(synchronize_session=False)
    )


async def _record_success(
    session: AsyncSession, claim: Claim, outcome: Outcome, now: datetime
) -> None:
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        _fenced(claim).values(
            status=DeliveryStatus.succeeded,
            lease_until=None,
            last_status_code=outcome.status_code,
            last_error=None,
            completed_at=now,
            updated_at=now,
        )
    )
    if result.rowcount:
        WEBHOOK_ATTEMPTS.labels("succeeded").inc()
        await session.execute(
            update(E)
            .where(E.id == claim.endpoint_id)
            .values(consecutive_failures=0, failing_since=None, last_success_at=now)
        )


async def _record_failure(
    session: AsyncSession, claim: Claim, outcome: Outcome, now: datetime
) -> None:
    give_up = claim.attempts >= settings.webhook_max_attempts
    later = now + timedelta(seconds=retry_delay(claim.attempts))
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        _fenced(claim).values(
            status=DeliveryStatus.abandoned if give_up else DeliveryStatus.failed,
            next_attempt_at=now if give_up else later,
            lease_until=None,
            last_status_code=outcome.status_code,
            last_error=(outcome.error or "")[:EXCERPT_CHARS] or None,
            completed_at=now if give_up else None,
            updated_at=now,
        )
    )
    if not result.rowcount:
        return  # the lease ran out and another worker owns the row now
    label = "refused" if outcome.refused else "abandoned" if give_up else "retry"
    WEBHOOK_ATTEMPTS.labels(label).inc()
    failures, since = (
        await session.execute(
            update(E)
            .where(E.id == claim.endpoint_id)
            .values(
                consecutive_failures=E.consecutive_failures + 1,
                failing_since=func.coalesce(E.failing_since, now),
            )
            .returning(E.consecutive_failures, E.failing_since)
        )
    ).one()
    limit = settings.webhook_disable_after_failures
    hours = settings.webhook_disable_after_hours
    if failures >= limit:
        await _disable(
            session, claim, f"{failures} deliveries in a row failed.", now, outcome.error
        )
    elif since is not None and now - since >= timedelta(hours=hours):
        await _disable(
            session, claim, f"Every delivery failed for {hours:g} hours.", now, outcome.error
        )


async def _disable(
    session: AsyncSession, claim: Claim, reason: str, now: datetime, last_error: str | None
) -> None:
    """Stop sending to the endpoint and tell the company's admins, once."""
    url = await session.scalar(
        update(E)
        .where(E.id == claim.endpoint_id, E.active.is_(True))
        .values(active=False, disabled_at=now, disabled_reason=reason)
        .returning(E.url)
    )
    if url is None:
        return  # already disabled, by another delivery's failure or by an admin
    WEBHOOK_ENDPOINTS_DISABLED.inc()
    logger.warning("webhook endpoint {} disabled: {}", claim.endpoint_id, reason)
    await audit.record(
        session,
        "webhook.disabled",
        company_id=claim.company_id,
        target=("webhook", claim.endpoint_id),
        changes={"reason": reason},
    )
    admins = await session.scalars(
        select(User.email).where(
            User.company_id == claim.company_id,
            User.role == Role.admin,
            User.status == UserStatus.active,
        )
    )
    context = {
        "url": url,
        "reason": reason,
        "last_error": last_error or "none recorded",
        "timeout": f"{settings.webhook_timeout_seconds:g}",
    }
    for email in admins:
        send_after_commit(session, email, "webhook_disabled", context)
