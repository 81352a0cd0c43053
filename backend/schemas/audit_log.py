from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from schemas.base import ReadSchema


class AuditLogRead(ReadSchema):
    id: uuid.UUID
    occurred_at: datetime
    action: str
    actor_user_id: uuid.UUID | None
    actor_api_key_id: uuid.UUID | None
    actor_email: str | None
    target_type: str | None
    target_id: str | None
    ip: str | None
    user_agent: str | None
    request_id: str | None
    changes: dict[str, Any]
