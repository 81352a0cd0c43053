"""Keyset pagination: stable order, no OFFSET scans, opaque cursors.

Lists order by `(sort column, id)` descending — ids are UUIDv7, so `id` alone already
follows creation time — and the cursor carries the last row's key. A cursor that does not
decode, or that was made for another ordering, is a 400, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.exceptions import BadRequest

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50

T = TypeVar("T")


class InvalidCursor(BadRequest):
    code = "invalid_cursor"
    message = "The cursor is not valid for this list."


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class PageResult(Generic[T]):
    items: list[T]
    next_cursor: str | None


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        if "t" in value:
            return datetime.fromisoformat(value["t"])
        if "u" in value:
            return uuid.UUID(value["u"])
    if isinstance(value, dict | list):
        raise ValueError("unexpected cursor value")
    return value


def encode_cursor(order_name: str, values: tuple[Any, ...]) -> str:
    raw = orjson.dumps({"o": order_name, "k": [_to_json(v) for v in values]})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order_name: str, width: int) -> tuple[Any, ...]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(data, dict) or data.get("o") != order_name:
            raise InvalidCursor()
        keys = data.get("k")
        if not isinstance(keys, list) or len(keys) != width:
            raise InvalidCursor()
        return tuple(_from_json(v) for v in keys)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise InvalidCursor() from exc


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    params: PageParams,
    *,
    order_by: tuple[InstrumentedAttribute[Any], ...],
) -> PageResult[Any]:
    """Run `stmt` (a select of one entity) one page at a time, newest first.

    `order_by` must end with a unique column (the primary key) so that the order is total.
    """
    order_name = ",".join(col.key for col in order_by)
    if params.cursor:
        key = decode_cursor(params.cursor, order_name, len(order_by))
        stmt = stmt.where(tuple_(*order_by) < tuple_(*key))
    stmt = stmt.order_by(*(col.desc() for col in order_by)).limit(params.limit + 1)
    rows = list((await session.scalars(stmt)).all())
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last = rows[-1]
        next_cursor = encode_cursor(order_name, tuple(getattr(last, c.key) for c in order_by))
    return PageResult(items=rows, next_cursor=next_cursor)
