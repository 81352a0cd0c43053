"""The public side of a simulation: what the tracking links answer, and how their hits
become events without a database round trip per request.

- **Tokens** resolve to a `Target` through a small in-process cache (a token's recipient
  never changes; its campaign's state may, so entries live `TARGET_TTL` seconds).
- **Suspected automation**: HEAD and prefetch requests, known scanner user agents,
  configured scanner networks and opens or clicks within seconds of delivery are recorded
  with the reason, and left out of first times and rates.
- **Group commit** (`EventWriter`): concurrent hits are written together, one
  transaction per batch, and each request is answered only once its batch has committed —
  nothing is acknowledged before it is durable.
- **Pages**: the campaign's landing page (forms rewritten to post back to us), the
  teachable moment, and a neutral page for unknown or finished links that says nothing
  about the platform.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import select

from core.config import settings
from db.scoping import bind_tenant
from db.session import unit_of_work
from models.base import utcnow
from models.company import Company
from models.email_template import EmailTemplate
from models.landing_page import LandingPage
from models.phishing_event import EventType
from services import phishing_render
from services import teachable_moment as teachable_moment_pages
from services.landing_pages import recordable_submission
from services.phishing_events import EventView, Hit, Target, lookup_targets, record

TARGET_TTL = 10.0
TARGET_CACHE_SIZE = 100_000
BATCH_MAX = 500

# Mail-security scanners and link previewers that announce themselves.
SCANNER_AGENTS = (
    "barracuda",
    "mimecast",
    "proofpoint",
    "urldefense",
    "safelinks",
    "symantec",
    "messagelabs",
    "trendmicro",
    "fireeye",
    "forcepoint",
    "sophos",
    "zscaler",
    "googlebot",
    "google-safety",
    "bingbot",
    "bingpreview",
    "yahoo! slurp",
    "facebookexternalhit",
    "slackbot",
    "twitterbot",
    "linkedinbot",
    "discordbot",
    "telegrambot",
    "whatsapp",
    "skypeuripreview",
    "microsoftpreview",
    "headlesschrome",
    "phantomjs",
    "python-requests",
    "python-urllib",
    "python-httpx",
    "aiohttp",
    "go-http-client",
    "curl/",
    "wget/",
    "okhttp",
    "java/",
    "libwww-perl",
    "httpclient",
)
_PREFETCH_HEADERS = ("purpose", "sec-purpose", "x-purpose", "x-moz")

PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src * data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# A 1x1 transparent GIF.
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
    b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


# --- automation ----------------------------------------------------------------------------


@cache
def _scanner_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in settings.phishing_scanner_networks)


@cache
def _scanner_agents() -> tuple[str, ...]:
    return (*SCANNER_AGENTS, *(a.lower() for a in settings.phishing_scanner_user_agents))


def automation_reason(
    kind: EventType,
    *,
    method: str,
    headers: Mapping[str, str],
    ip: str | None,
    sent_at: datetime | None,
    now: datetime,
) -> str | None:
    """Why this hit looks automated, or None when it looks human."""
    if method == "HEAD":
        return "HEAD request"
    for name in _PREFETCH_HEADERS:
        value = headers.get(name, "").lower()
        if "prefetch" in value or "preview" in value:
            return f"{name}: {value[:40]} request"
    agent = headers.get("user-agent", "").lower()
    if not agent:
        return "no user agent"
    for needle in _scanner_agents():
        if needle in agent:
            return f"scanner user agent ({needle})"
    if ip and _scanner_networks():
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            address = None
        if address is not None and any(address in net for net in _scanner_networks()):
            return "address in a configured scanner network"
    if kind in (EventType.opened, EventType.clicked) and sent_at is not None:
        seconds = (now - sent_at).total_seconds()
        if seconds < settings.phishing_scanner_seconds:
            return f"{kind.value} {max(seconds, 0):.0f} s after delivery"
    return None


# --- targets -------------------------------------------------------------------------------


class _Batch:
    """Work gathered from concurrent requests and done together: each request waits on the
    batch's event (not a future of its own: with dozens of requests per batch, a future and
    a shield per request were a measurable share of the pixel's CPU time)."""

    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.error: BaseException | None = None

    async def wait(self) -> None:
        await self.done.wait()
        if self.error is not None:
            raise self.error


class _Lookup(_Batch):
    __slots__ = ("found", "tokens")

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()
        self.found: dict[str, Target] = {}


class TargetCache:
    """Token → target, for `TARGET_TTL` seconds. Misses that arrive together are looked up
    together, in one query."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Target | None]] = {}
        self._next = _Lookup()
        self._task: asyncio.Task[None] | None = None

    async def get(self, token: str) -> Target | None:
        entry = self._entries.get(token)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        lookup = self._next
        lookup.tokens.add(token)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._load())
        await lookup.wait()
        return lookup.found.get(token)

    async def _load(self) -> None:
        while self._next.tokens:
            lookup, self._next = self._next, _Lookup()
            try:
                lookup.found = await lookup_targets(list(lookup.tokens))
            except Exception as exc:
                lookup.error = exc
            else:
                expires = time.monotonic() + TARGET_TTL
                entries = self._entries
                for token in lookup.tokens:
                    if len(entries) >= TARGET_CACHE_SIZE:
                        entries.pop(next(iter(entries)))
                    entries[token] = (expires, lookup.found.get(token))
            lookup.done.set()

    def clear(self) -> None:
        self._entries.clear()


targets = TargetCache()


# --- group commit --------------------------------------------------------------------------


class _Write(_Batch):
    __slots__ = ("hits", "views")

    def __init__(self) -> None:
        super().__init__()
        self.hits: list[Hit] = []
        self.views: list[EventView] = []


class EventWriter:
    """Batches hits from concurrent requests into one transaction; each caller gets its
    event once the batch has committed (or the batch's error). One batch is written at a
    time: measured on the open pixel, two or four in flight made smaller batches, twice
    PostgreSQL's CPU per event, and a lower rate (four: -35%)."""

    def __init__(self) -> None:
        self._next = _Write()
        self._full: deque[_Write] = deque()  # cut at BATCH_MAX, waiting their turn
        self._task: asyncio.Task[None] | None = None

    async def write(self, hit: Hit) -> EventView:
        batch = self._next
        index = len(batch.hits)
        batch.hits.append(hit)
        if index + 1 >= BATCH_MAX:
            self._full.append(batch)
            self._next = _Write()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        await batch.wait()
        return batch.views[index]

    async def _drain(self) -> None:
        while True:
            if self._full:
                batch = self._full.popleft()
            elif self._next.hits:
                batch, self._next = self._next, _Write()
            else:
                return
            try:
                async with unit_of_work() as session:
                    batch.views = await record(session, batch.hits)
            except Exception as exc:  # every waiting request gets the error
                batch.error = exc
            batch.done.set()


writer = EventWriter()


# --- pages ---------------------------------------------------------------------------------


def neutral_page() -> str:
    return teachable_moment_pages.page("neutral")


def reported_page() -> str:
    return teachable_moment_pages.page("reported")


class _PasswordFields(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and (values.get("type") or "").lower() == "password":
            self.names.add(values.get("name") or "")


def password_fields(html: str) -> set[str]:
    parser = _PasswordFields()
    parser.feed(html)
    return parser.names


def with_form_target(html: str, token: str) -> str:
    """Make every form of a (sanitized) landing page post back to our submit route."""
    action = f'<form action="/t/s/{token}" method="post"'
    return html.replace("<form", action).replace("<FORM", action)


@dataclass(frozen=True, slots=True)
class Context:
    company_name: str
    custom_teachable_moment: str | None
    landing_page: LandingPage | None
    template: EmailTemplate | None


async def load_context(target: Target) -> Context:
    async with unit_of_work() as session:
        await bind_tenant(session, target.company_id)
        company = await session.scalar(select(Company).where(Company.id == target.company_id))
        page = None
        if target.landing_page_id is not None:
            page = await session.scalar(
                select(LandingPage)
                .where(
                    LandingPage.company_id == target.company_id,
                    LandingPage.id == target.landing_page_id,
                )
                .execution_options(include_deleted=True)
            )
        template = await session.scalar(
            select(EmailTemplate)
            .where(
                EmailTemplate.company_id == target.company_id,
                EmailTemplate.id == target.template_id,
            )
            .execution_options(include_deleted=True)
        )
    return Context(
        company.name if company else "",
        company.teachable_moment_html if company else None,
        page,
        template,
    )


def teachable_moment(target: Target, context: Context) -> str:
    template = context.template
    subject = ""
    if template is not None:
        try:
            sample = {**phishing_render.SAMPLE, "first_name": target.first_name or ""}
            subject = phishing_render.render(template.subject, None, None, sample).subject
        except phishing_render.TemplateInvalid:
            subject = template.name
    values: dict[str, Any] = {
        "company_name": context.company_name,
        "first_name": target.first_name or "",
        "template_subject": subject,
        "red_flags": list(template.red_flags) if template is not None else [],
        "remediation_url": (
            f"{settings.public_url.rstrip('/')}/me/enrollments"
            if target.remediation_course_id
            else ""
        ),
        "report_instructions": "",
    }
    return teachable_moment_pages.render(values, context.custom_teachable_moment)


def landing_page(page: LandingPage, token: str) -> str:
    return with_form_target(page.html, token)


MAX_FORM_FIELDS = 100


def parse_form(body: bytes, content_type: str) -> dict[str, str]:
    """The fields of a URL-encoded form (what HTML forms send by default). Anything else —
    multipart, JSON, binary — yields no fields: the submission is still recorded."""
    if not content_type.lower().startswith("application/x-www-form-urlencoded"):
        return {}
    text = body.decode("utf-8", errors="replace")
    pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=None)[:MAX_FORM_FIELDS]
    return {name[:100]: value[:1000] for name, value in pairs}


def submission_details(page: LandingPage | None, form: Mapping[str, str]) -> dict[str, Any]:
    if page is None:
        return {"fields": sorted(form)}
    return recordable_submission(page, dict(form), password_fields(page.html))


def hit(
    target: Target,
    kind: EventType,
    *,
    method: str,
    headers: Mapping[str, str],
    ip: str | None,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> Hit:
    return Hit(
        target=target,
        type=kind,
        at=now,
        ip=ip,
        user_agent=headers.get("user-agent"),
        details=details or {},
        automated_reason=automation_reason(
            kind, method=method, headers=headers, ip=ip, sent_at=target.sent_at, now=now
        ),
    )


async def track(
    token: str,
    kind: EventType,
    *,
    method: str,
    headers: Mapping[str, str],
    ip: str | None,
    details: dict[str, Any] | None = None,
) -> Target | None:
    """Record the hit if the token is live (answering once it is durable); return its
    target, or None when the visitor should get the neutral page."""
    target = await targets.get(token)
    if target is None or not target.trackable:
        return None
    await writer.write(
        hit(target, kind, method=method, headers=headers, ip=ip, now=utcnow(), details=details)
    )
    return target


def safe_redirect(url: str | None) -> str | None:
    """Only absolute http(s) redirects leave the page; anything else is ignored."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None
