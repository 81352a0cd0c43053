from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from schemas.base import CreateSchema

Code = Annotated[str, Field(min_length=6, max_length=32)]


class TwoFactorSetupRead(BaseModel):
    secret: str = Field(description="Base32 secret, for apps that cannot scan the QR code.")
    otpauth_uri: str
    qr_code: str = Field(description="PNG image as a data: URI.")


class TwoFactorCode(CreateSchema):
    code: Code


class TwoFactorDisable(CreateSchema):
    password: Annotated[str, Field(min_length=1, max_length=256)]
    code: Code = Field(description="A current TOTP code or an unused recovery code.")


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(description="Each works once. Shown only now.")
