"""Who is calling: a user's access token or a company API key, and what they may do.

`Authorization: Bearer <token>`: a token starting with `vk_` is an API key, anything else
an access JWT. Each request re-reads the user (or key) and its company, so disabling a user,
suspending a company or revoking a key takes effect on the next request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from api.dependencies.common import ClientIP, SessionDep
from core.context import request_id_var
from core.exceptions import PermissionDenied, Unauthorized
from core.permissions import Permission, allowed
from core.security import InvalidToken, decode_access_token
from db.scoping import AuthContext, RequestMeta, bind_tenant
from models.api_key import ApiKeyScope
from models.user import User
from services import api_keys as api_key_service
from services.auth import is_session_revoked
from services.principals import active_principal
from services.users import load_active_user

bearer = HTTPBearer(auto_error=False, description="An access token or a company API key.")

# Routes a user who must still set up 2FA may use (company policy, see auth.login).
MFA_SETUP_PATHS = frozenset({"/api/v1/users/me", "/api/v1/auth/logout", "/api/v1/auth/logout-all"})
MFA_SETUP_PREFIX = "/api/v1/users/me/"


# A leaked integration key must not be able to mint more keys or loosen security settings.
API_KEY_EXCLUDED = frozenset({Permission.api_keys_manage, Permission.company_write})


class InvalidAccessToken(Unauthorized):
    code = "invalid_token"
    message = "The access token is missing, invalid or expired."


class MfaSetupRequired(PermissionDenied):
    code = "mfa_setup_required"
    message = "Your company requires two-factor authentication: set it up first."


async def get_request_meta(request: Request, ip: ClientIP) -> RequestMeta:
    return RequestMeta(
        ip=ip, user_agent=request.headers.get("user-agent"), request_id=request_id_var.get()
    )


MetaDep = Annotated[RequestMeta, Depends(get_request_meta)]


async def authenticate_token(session: AsyncSession, token: str, *, path: str) -> AuthContext:
    """Who `token` (an access JWT or an API key) belongs to, for a call to `path`; raises
    `InvalidAccessToken` or `MfaSetupRequired`. Shared by HTTP routes and WebSockets."""
    if token.startswith(api_key_service.KEY_PREFIX):
        auth = await api_key_service.authenticate(session, token)
        if auth is None:
            raise InvalidAccessToken("The API key is not valid.")
        return auth
    try:
        claims = decode_access_token(token)
    except InvalidToken as exc:
        raise InvalidAccessToken() from exc
    await bind_tenant(session, claims.company_id)
    principal = await active_principal(session, claims.user_id, claims.company_id)
    if principal is None or (
        principal.sessions_valid_after is not None
        and claims.issued_at < principal.sessions_valid_after
    ):
        raise InvalidAccessToken()
    if await is_session_revoked(claims.session_id):
        raise InvalidAccessToken()
    if claims.mfa_setup_pending and not (
        path in MFA_SETUP_PATHS or path.startswith(MFA_SETUP_PREFIX)
    ):
        raise MfaSetupRequired()
    return AuthContext(
        company_id=principal.company_id,
        role=principal.role,
        user_id=principal.user_id,
        session_id=claims.session_id,
        email=principal.email,
    )


async def _principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> AuthContext:
    if credentials is None or not credentials.credentials:
        raise InvalidAccessToken("Authentication is required.")
    # The scope's path, not `request.url`: building the URL object costs more than the check.
    path: str = request.scope["path"]
    return await authenticate_token(session, credentials.credentials, path=path)


Auth = Annotated[AuthContext, Depends(_principal)]


async def get_current_user(auth: Auth, session: SessionDep) -> User:
    """The signed-in user's row, for routes about themselves (not for API keys)."""
    if auth.user_id is None:
        raise PermissionDenied("This endpoint is for signed-in users, not API keys.")
    user = await load_active_user(session, auth.user_id, auth.company_id)
    if user is None:
        raise InvalidAccessToken()
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def check_permission(auth: AuthContext, permission: Permission, *, writes: bool) -> None:
    """Raise `PermissionDenied` unless `auth` may use `permission` (to change things when
    `writes`): the role table, and what API keys are kept from."""
    if not allowed(auth.role, permission):
        raise PermissionDenied()
    if auth.is_api_key:
        if permission in API_KEY_EXCLUDED:
            raise PermissionDenied("API keys cannot do this; sign in as an admin.")
        if writes and auth.api_key_scope is not ApiKeyScope.read_write:
            raise PermissionDenied("This API key may only read.")


def require(permission: Permission) -> Callable[..., Awaitable[AuthContext]]:
    """A dependency that lets the caller through only with `permission` (core.permissions)
    and gives the route the caller: `auth: ReadUsers`, not `auth: Auth, _: ReadUsers`.
    FastAPI solves each dependency's whole subtree again even when its value is cached, so
    taking both solved the principal's dependencies twice on every request."""

    async def check(auth: Auth, request: Request) -> AuthContext:
        writes = request.method not in ("GET", "HEAD", "OPTIONS")
        check_permission(auth, permission, writes=writes)
        return auth

    check.__name__ = f"require_{permission.value}"
    check.permission = permission  # type: ignore[attr-defined]  # read by the RBAC test
    return check
