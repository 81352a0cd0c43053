from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel


class ImportRow(BaseModel):
    row: int
    email: str | None
    action: Literal["create", "update", "unchanged", "reject"]
    errors: list[str]
    changes: dict[str, Any]
    user_id: uuid.UUID | None


class ImportResult(BaseModel):
    dry_run: bool
    created: int
    updated: int
    unchanged: int
    rejected: int
    rows: list[ImportRow]
