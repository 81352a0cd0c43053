"""WebSocket plumbing for streaming routes: the credential in the handshake, and refusals
as close codes.

Browsers cannot set headers on a WebSocket, so a token (access JWT or API key) comes one
of two ways:
- `Authorization: Bearer <token>`, from any client that can set headers;
- `Sec-WebSocket-Protocol`, from browsers: offer `vigil.v1` and `bearer.<token>`
  (`new WebSocket(url, ["vigil.v1", "bearer." + token])`). The server answers `vigil.v1`;
  it never echoes the token.
Never in the URL (`?token=` is ignored): URLs end up in proxy logs, browser history and
uvicorn's own access log. No cookie is read, so a page on another origin cannot borrow a
signed-in browser's session (cross-site WebSocket hijacking) and no Origin check is needed.

A refused connection is accepted and closed at once with `4000 + the HTTP status` of the
error (4401 invalid or expired token, 4403 no permission, 4404 not found) and the error's
`code` as the reason, before any data: a browser never sees the status of a refused
handshake, only close codes.
"""

from __future__ import annotations

from contextlib import suppress

from fastapi import WebSocket
from sqlalchemy.ext.asyncio import AsyncSession

from api.dependencies.auth import InvalidAccessToken, authenticate_token, check_permission
from core.exceptions import AppError
from core.permissions import Permission
from db.scoping import AuthContext

SUBPROTOCOL = "vigil.v1"
TOKEN_SUBPROTOCOL_PREFIX = "bearer."  # noqa: S105 - a prefix, not a secret


def handshake_token(websocket: WebSocket) -> str | None:
    header = websocket.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    for offered in websocket.scope.get("subprotocols", ()):
        if offered.startswith(TOKEN_SUBPROTOCOL_PREFIX) and offered != TOKEN_SUBPROTOCOL_PREFIX:
            return str(offered.removeprefix(TOKEN_SUBPROTOCOL_PREFIX))
    return None


def chosen_subprotocol(websocket: WebSocket) -> str | None:
    return SUBPROTOCOL if SUBPROTOCOL in websocket.scope.get("subprotocols", ()) else None


async def authenticate_socket(
    session: AsyncSession, websocket: WebSocket, permission: Permission
) -> AuthContext:
    """The caller of a WebSocket, if they may use `permission` (as a read: a read-only API
    key may watch a stream)."""
    token = handshake_token(websocket)
    if token is None:
        raise InvalidAccessToken("Authentication is required.")
    auth = await authenticate_token(session, token, path=websocket.url.path)
    check_permission(auth, permission, writes=False)
    return auth


def close_code(error: AppError) -> int:
    return 4000 + error.status_code


async def accept(websocket: WebSocket) -> None:
    await websocket.accept(subprotocol=chosen_subprotocol(websocket))


async def close(websocket: WebSocket, code: int, reason: str) -> None:
    """Close, unless the client has gone already."""
    with suppress(RuntimeError, OSError):
        await websocket.close(code=code, reason=reason)


async def refuse(websocket: WebSocket, error: AppError) -> None:
    await accept(websocket)
    await close(websocket, close_code(error), error.code)
