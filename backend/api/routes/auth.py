"""Sign-up, login (with 2FA), token rotation, logout, password reset, invitations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.dependencies.auth import Auth, CurrentUser, MetaDep
from api.dependencies.common import SessionDep, UnitOfWorkRoute
from api.prefix import API_PREFIX
from schemas.auth import (
    Accepted,
    InvitationAccept,
    LoginRequest,
    MfaChallengeResponse,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    RegisterRequest,
    TokenResponse,
    TwoFactorVerifyRequest,
)
from schemas.base import ErrorResponse
from schemas.user import UserRead
from services import auth as auth_service
from services import passwords, two_factor
from services.auth import IssuedTokens, MfaChallenge

router = APIRouter(route_class=UnitOfWorkRoute, prefix=f"{API_PREFIX}/auth", tags=["auth"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse},
    401: {"model": ErrorResponse},
    429: {"model": ErrorResponse, "description": "Too many attempts; see Retry-After"},
}


def token_response(tokens: IssuedTokens) -> TokenResponse:
    return TokenResponse(
        access_token=tokens.access_token,
        expires_at=tokens.access_expires_at,
        refresh_token=tokens.refresh_token,
        refresh_expires_at=tokens.refresh_expires_at,
        mfa_setup_required=tokens.mfa_setup_required,
        user=UserRead.model_validate(tokens.user),
    )


@router.post("/register", status_code=201, responses={**_ERRORS, 409: {"model": ErrorResponse}})
async def register(body: RegisterRequest, session: SessionDep, meta: MetaDep) -> TokenResponse:
    """Create a company and its first admin, and sign the admin in."""
    tokens = await auth_service.register_company(
        session,
        company_name=body.company_name,
        email=body.email,
        password=body.password,
        first_name=body.first_name,
        last_name=body.last_name,
        meta=meta,
    )
    return token_response(tokens)


@router.post("/login", responses=_ERRORS)
async def login(
    body: LoginRequest, session: SessionDep, meta: MetaDep
) -> TokenResponse | MfaChallengeResponse:
    """Email and password: tokens, or a 2FA challenge to answer at /auth/2fa/verify."""
    result = await auth_service.login(session, email=body.email, password=body.password, meta=meta)
    if isinstance(result, MfaChallenge):
        return MfaChallengeResponse(challenge=result.challenge, expires_at=result.expires_at)
    return token_response(result)


@router.post("/2fa/verify", responses=_ERRORS)
async def verify_2fa(
    body: TwoFactorVerifyRequest, session: SessionDep, meta: MetaDep
) -> TokenResponse:
    """Second step of a login: the challenge plus a TOTP code or a recovery code."""
    tokens = await two_factor.verify_challenge(
        session, challenge=body.challenge, code=body.code, meta=meta
    )
    return token_response(tokens)


@router.post("/refresh", responses=_ERRORS)
async def refresh(body: RefreshRequest, session: SessionDep, meta: MetaDep) -> TokenResponse:
    """Rotate a refresh token: the old one stops working; reusing it ends the login."""
    return token_response(
        await auth_service.refresh(session, refresh_token=body.refresh_token, meta=meta)
    )


@router.post("/logout", status_code=204, responses=_ERRORS)
async def logout(auth: Auth, session: SessionDep, meta: MetaDep) -> None:
    """End this session (its refresh token and its access tokens)."""
    await auth_service.logout(session, auth, meta)


@router.post("/logout-all", status_code=204, responses=_ERRORS)
async def logout_all(auth: Auth, user: CurrentUser, session: SessionDep, meta: MetaDep) -> None:
    """End every session of the signed-in user, on every device."""
    await auth_service.logout_all(session, auth, user, meta)


@router.post("/password-reset/request", status_code=202, responses=_ERRORS)
async def request_password_reset(
    body: PasswordResetRequest, session: SessionDep, meta: MetaDep
) -> Accepted:
    """Email a reset link. Answers the same whether or not the account exists."""
    await passwords.request_reset(session, email=body.email, meta=meta)
    return Accepted(message="If an account exists for this address, a reset link is on its way.")


@router.post("/password-reset/confirm", status_code=204, responses=_ERRORS)
async def confirm_password_reset(
    body: PasswordResetConfirm, session: SessionDep, meta: MetaDep
) -> None:
    """Set a new password with the emailed token; every session ends."""
    await passwords.confirm_reset(
        session, token=body.token, new_password=body.new_password, meta=meta
    )


@router.post("/invitations/accept", responses=_ERRORS)
async def accept_invitation(
    body: InvitationAccept, session: SessionDep, meta: MetaDep
) -> TokenResponse:
    """Set a password with the invitation token; the account becomes active."""
    tokens = await passwords.accept_invitation(
        session,
        token=body.token,
        password=body.password,
        first_name=body.first_name,
        last_name=body.last_name,
        meta=meta,
    )
    return token_response(tokens)
