"""Public tracking links of simulation emails: no auth, the recipient token is the
credential. An unknown token (of any length: no validation error names the framework),
or one of a finished or cancelled campaign, gets the same plain page (or pixel) as any
other, so nothing tells a visitor whether a token exists or what platform is behind it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from api.dependencies.common import ClientIP, UnitOfWorkRoute
from core.config import settings
from core.network import client_address
from models.phishing_event import EventType
from services import tracking
from services.phishing_events import Target

router = APIRouter(
    route_class=UnitOfWorkRoute, prefix="/t", tags=["tracking"], include_in_schema=False
)

_NO_STORE = {"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"}
_PAGE = {**_NO_STORE, "Content-Security-Policy": tracking.PAGE_CSP, "X-Robots-Tag": "noindex"}


def _page(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers=_PAGE)


def _neutral() -> HTMLResponse:
    return _page(tracking.neutral_page(), 404)


async def _track(
    request: Request, token: str, kind: EventType, ip: str, details: dict[str, object] | None = None
) -> Target | None:
    return await tracking.track(
        token, kind, method=request.method, headers=request.headers, ip=ip, details=details
    )


_PIXEL_HEADERS = [
    (b"content-type", b"image/gif"),
    (b"content-length", str(len(tracking.PIXEL)).encode()),
    (b"cache-control", b"no-store, max-age=0"),
    (b"pragma", b"no-cache"),
]


async def pixel_asgi(scope: Scope, _receive: Receive, send: Send) -> None:
    """`GET /t/o/{token}`, the open pixel — never cached, the same image whatever the
    token. A plain ASGI endpoint that the edge middleware calls directly (`FAST_ROUTES`):
    the most requested route of a campaign skips FastAPI's routing and dependency
    machinery (measured: most of its CPU time)."""
    token = scope["path"][len(PIXEL_PREFIX) :]
    # A plain dict: the tracker reads a few headers, and Starlette's Headers scans the
    # whole list on every read. ASGI header names are already lower-case.
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    peer = scope.get("client")
    await tracking.track(
        token,
        EventType.opened,
        method=scope["method"],
        headers=headers,
        ip=client_address(
            peer[0] if peer else "unknown",
            headers.get("x-forwarded-for", ""),
            settings.trusted_proxies,
        ),
    )
    await send({"type": "http.response.start", "status": 200, "headers": list(_PIXEL_HEADERS)})
    body = b"" if scope["method"] == "HEAD" else tracking.PIXEL
    await send({"type": "http.response.body", "body": body})


PIXEL_PREFIX = "/t/o/"
FAST_ROUTES = ((PIXEL_PREFIX, "/t/o/{token}", pixel_asgi),)


@router.api_route("/c/{token}", methods=["GET", "HEAD"])
async def click(token: str, request: Request, ip: ClientIP) -> Response:
    """A click: the campaign's landing page, or straight to the teachable moment."""
    target = await _track(request, token, EventType.clicked, ip)
    if target is None:
        return _neutral()
    if request.method == "HEAD":
        return Response(headers=_PAGE)
    context = await tracking.load_context(target)
    if context.landing_page is not None:
        return _page(tracking.landing_page(context.landing_page, token))
    return _page(tracking.teachable_moment(target, context))


@router.post("/s/{token}")
async def submit(token: str, request: Request, ip: ClientIP) -> Response:
    """A landing-page form: records that it was submitted (field names; values only if
    the company asked, never a password), then redirects or shows the teachable moment."""
    length = request.headers.get("content-length")
    limit = settings.phishing_submit_max_bytes
    if length is not None and (not length.isdigit() or int(length) > limit):
        return _page(tracking.neutral_page(), 413)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return _page(tracking.neutral_page(), 413)
    target = await tracking.targets.get(token)
    if target is None or not target.trackable:
        return _neutral()
    context = await tracking.load_context(target)
    form = tracking.parse_form(body, request.headers.get("content-type", ""))
    details = tracking.submission_details(context.landing_page, form)
    await _track(request, token, EventType.submitted, ip, details)
    redirect = tracking.safe_redirect(
        context.landing_page.redirect_url if context.landing_page else None
    )
    if redirect:
        return RedirectResponse(redirect, status_code=303, headers=_NO_STORE)
    return _page(tracking.teachable_moment(target, context))


@router.get("/r/{token}")
async def report(token: str, request: Request, ip: ClientIP) -> Response:
    """The report link inside a simulation email: counts as reporting it."""
    target = await _track(request, token, EventType.reported, ip)
    if target is None:
        return _neutral()
    return _page(tracking.reported_page())
