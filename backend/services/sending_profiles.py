"""Sending profiles: the SMTP relays a company's phishing simulations go out through.

The password is encrypted at rest and never returned. A profile may not point at this
server's own network (loopback, private, link-local…) in production: otherwise any company
admin could make our servers talk to internal services. The test send resolves the host
and checks every address before connecting.
"""

from __future__ import annotations

import uuid
from email.utils import parseaddr
from html import escape

from email_validator import EmailNotValidError, validate_email
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import settings
from core.crypto import decrypt_secret, encrypt_secret
from core.exceptions import BadRequest, NotFound
from core.outbound import TargetRefused, TargetUnresolvable, check_literal_target, checked_address
from db.pagination import PageParams, PageResult, paginate
from db.scoping import AuthContext, RequestMeta, get_scoped, scoped_select
from models.sending_profile import SendingProfile
from schemas.sending_profile import SendingProfileCreate, SendingProfileUpdate
from services import audit
from services.email import EmailError, RenderedEmail, SmtpBackend, build_message

PASSWORD_PURPOSE = "smtp-password"  # noqa: S105 - a key-derivation purpose name
CONNECT_TIMEOUT = 10.0


class SendingProfileNotFound(NotFound):
    code = "sending_profile_not_found"
    message = "No such sending profile."


class InvalidSender(BadRequest):
    code = "invalid_from_address"
    message = "The from address must be an email address, optionally with a name."


class ForbiddenHost(BadRequest):
    code = "forbidden_smtp_host"
    message = "This host is on a private or reserved network and cannot be used."


def _check_from(value: str) -> str:
    _, address = parseaddr(value)
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidSender(details={"reason": str(exc)}) from exc
    return value


def _check_literal_host(host: str) -> None:
    """Refuse an IP literal on a forbidden network at save time (names are checked when
    they are resolved, at send time)."""
    try:
        check_literal_target(host)
    except TargetRefused as exc:
        raise ForbiddenHost() from exc


async def check_resolved_host(host: str, port: int) -> None:
    if settings.private_targets_allowed:
        return
    try:
        await checked_address(host, port)
    except TargetUnresolvable as exc:
        raise BadRequest(f"The host '{host}' could not be resolved.") from exc
    except TargetRefused as exc:
        raise ForbiddenHost() from exc


async def get_profile(
    session: AsyncSession, auth: AuthContext, profile_id: uuid.UUID
) -> SendingProfile:
    return await get_scoped(session, SendingProfile, profile_id, auth, error=SendingProfileNotFound)


async def list_profiles(
    session: AsyncSession, auth: AuthContext, page: PageParams
) -> PageResult[SendingProfile]:
    stmt = scoped_select(SendingProfile, auth)
    return await paginate(session, stmt, page, order_by=(SendingProfile.id,))


async def create_profile(
    session: AsyncSession, auth: AuthContext, data: SendingProfileCreate, *, meta: RequestMeta
) -> SendingProfile:
    _check_literal_host(data.host)
    profile = SendingProfile(
        company_id=auth.company_id,
        **data.model_dump(exclude={"password", "from_address"}),
        from_address=_check_from(data.from_address),
        password_encrypted=(
            encrypt_secret(data.password.get_secret_value(), purpose=PASSWORD_PURPOSE)
            if data.password
            else None
        ),
    )
    session.add(profile)
    await session.flush()
    await audit.record(
        session,
        "sending_profile.created",
        auth=auth,
        target=("sending_profile", profile.id),
        meta=meta,
        changes={"name": profile.name, "host": profile.host},
    )
    return profile


async def update_profile(
    session: AsyncSession,
    auth: AuthContext,
    profile_id: uuid.UUID,
    data: SendingProfileUpdate,
    *,
    meta: RequestMeta,
) -> SendingProfile:
    profile = await get_profile(session, auth, profile_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("host") is not None:
        _check_literal_host(changes["host"])
    if changes.get("from_address") is not None:
        _check_from(changes["from_address"])
    for field in ("name", "host", "port", "security", "from_address", "messages_per_minute"):
        if changes.get(field) is not None:
            setattr(profile, field, changes[field])
    if "username" in changes:
        profile.username = changes["username"]
    if "headers" in changes:
        profile.headers = changes["headers"] or {}
    if "password" in changes:  # null removes it; a value replaces it
        secret = data.password.get_secret_value() if data.password else None
        profile.password_encrypted = (
            encrypt_secret(secret, purpose=PASSWORD_PURPOSE) if secret else None
        )
    await session.flush()
    await audit.record(
        session,
        "sending_profile.updated",
        auth=auth,
        target=("sending_profile", profile.id),
        meta=meta,
        changes={"fields": sorted(changes)},
    )
    return profile


async def delete_profile(
    session: AsyncSession, auth: AuthContext, profile_id: uuid.UUID, *, meta: RequestMeta
) -> None:
    profile = await get_profile(session, auth, profile_id)
    profile.soft_delete()
    await audit.record(
        session,
        "sending_profile.deleted",
        auth=auth,
        target=("sending_profile", profile.id),
        meta=meta,
    )


def backend_for(profile: SendingProfile) -> SmtpBackend:
    password = (
        decrypt_secret(profile.password_encrypted, purpose=PASSWORD_PURPOSE)
        if profile.password_encrypted
        else None
    )
    return SmtpBackend(
        profile.host,
        profile.port,
        username=profile.username,
        password=SecretStr(password) if password else None,
        security=profile.security.value,
        timeout=CONNECT_TIMEOUT,
    )


async def send_test_message(
    session: AsyncSession, auth: AuthContext, profile_id: uuid.UUID, to: str
) -> tuple[bool, str]:
    """Send one real message through the profile; report what the server answered."""
    profile = await get_profile(session, auth, profile_id)
    await check_resolved_host(profile.host, profile.port)
    rendered = RenderedEmail(
        subject=f"{settings.app_name}: sending profile test",
        text=f"This message tests the sending profile '{profile.name}'. It worked.\n",
        html=f"<p>This message tests the sending profile <b>{escape(profile.name)}</b>. "
        "It worked.</p>",
    )
    message = build_message(to, rendered, headers={"From": profile.from_address})
    try:
        result = await backend_for(profile).send(message)
    except EmailError as exc:
        return False, str(exc)
    return result.accepted, result.detail
