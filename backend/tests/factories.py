"""Factories for test data: each makes a valid row with overridable fields, flushed."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models.company import Company

_seq = itertools.count(1)


async def make_company(session: AsyncSession, **fields: Any) -> Company:
    company = Company(name=fields.pop("name", f"Company {next(_seq)}"), **fields)
    session.add(company)
    await session.flush()
    return company
