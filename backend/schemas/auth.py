from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, EmailStr, Field

from schemas.base import CreateSchema
from schemas.user import Name, UserRead

Password = Annotated[str, Field(min_length=1, max_length=256)]
Token = Annotated[str, Field(min_length=16, max_length=256)]


class RegisterRequest(CreateSchema):
    company_name: Annotated[str, Field(min_length=1, max_length=200)]
    email: EmailStr
    password: Password
    first_name: Name | None = None
    last_name: Name | None = None


class LoginRequest(CreateSchema):
    email: Annotated[str, Field(min_length=3, max_length=320)]
    password: Password


class TokenResponse(BaseModel):
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme name
    access_token: str
    expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    mfa_setup_required: bool = False
    user: UserRead


class MfaChallengeResponse(BaseModel):
    mfa_required: Literal[True] = True
    challenge: str
    expires_at: datetime


class TwoFactorVerifyRequest(CreateSchema):
    challenge: Token
    code: Annotated[str, Field(min_length=6, max_length=32)]


class RefreshRequest(CreateSchema):
    # Generous, so that a wrong kind of token (an access JWT) gets a 401, not a 422.
    refresh_token: Annotated[str, Field(min_length=16, max_length=2048)]


class PasswordResetRequest(CreateSchema):
    email: Annotated[str, Field(min_length=3, max_length=320)]


class PasswordResetConfirm(CreateSchema):
    token: Token
    new_password: Password


class InvitationAccept(CreateSchema):
    token: Token
    password: Password
    first_name: Name | None = None
    last_name: Name | None = None


class Accepted(BaseModel):
    """The request was taken; what happens next is told by email."""

    status: Literal["accepted"] = "accepted"
    message: str
