"""Dependencies every route uses: the request's unit of work, pagination, client address."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import settings
from core.network import client_ip
from db.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageParams
from db.session import unit_of_work


async def get_session() -> AsyncIterator[AsyncSession]:
    """The request's unit of work: commits when the route returns, rolls back if it raises.

    Used with `scope="function"` so the commit happens before the response is sent: a
    client never sees a 2xx for a change that then failed to commit."""
    async with unit_of_work() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Page size, at most {MAX_PAGE_SIZE}.")
    ] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None,
        Query(max_length=512, description="`next_cursor` from the previous page."),
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor or None)


PageDep = Annotated[PageParams, Depends(get_page_params)]


# Dependencies that do no I/O are still `async def`: FastAPI runs a plain `def` in the
# thread pool, which costs more than the work itself on every request.
async def get_client_ip(request: Request) -> str:
    return client_ip(request, settings.trusted_proxies)


ClientIP = Annotated[str, Depends(get_client_ip)]
