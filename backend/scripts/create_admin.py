"""Create (or update) a platform admin: `python -m scripts.create_admin --email you@example.com`.

Asks for what is missing. Safe to run again: an existing account is made platform admin
and, if a password is given, gets it. Platform admins live in the operator's own company,
created on first use.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from sqlalchemy import select

from core.config import settings
from core.exceptions import AppError
from core.logging import setup_logging
from core.security import check_password_policy, hash_password
from db.scoping import auth_lookup, bind_tenant
from db.session import dispose_engine, unit_of_work
from models.company import Company
from models.user import Role, User, UserStatus
from services.auth import normalize_email, now_utc

PLATFORM_COMPANY = "Vigil operator"


async def ensure_platform_admin(
    email: str, password: str | None, first_name: str | None, last_name: str | None
) -> tuple[User, bool]:
    email = normalize_email(email)
    async with unit_of_work() as session:
        company = await session.scalar(select(Company).where(Company.is_platform.is_(True)))
        if company is None:
            company = Company(name=PLATFORM_COMPANY, is_platform=True)
            session.add(company)
            await session.flush()
        await bind_tenant(session, company.id)
        async with auth_lookup(session):
            user = await session.scalar(select(User).where(User.email == email))
        if user is not None and user.company_id != company.id:
            raise SystemExit(f"{email} already belongs to a customer company; use another address.")
        created = user is None
        if user is None:
            if not password:
                raise SystemExit("A new admin needs a password (--password or the prompt).")
            user = User(company_id=company.id, email=email)
            session.add(user)
        user.role = Role.platform_admin
        user.status = UserStatus.active
        user.first_name = first_name or user.first_name
        user.last_name = last_name or user.last_name
        if password:
            check_password_policy(password, email=email)
            user.password_hash = await hash_password(password)
            user.password_changed_at = now_utc()
        await session.flush()
    return user, created


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--email")
    parser.add_argument("--password", help="omit to be asked (nothing is echoed)")
    parser.add_argument("--first-name")
    parser.add_argument("--last-name")
    args = parser.parse_args()
    setup_logging(settings)
    email = args.email or input("Email: ").strip()
    password = args.password
    if password is None and sys.stdin.isatty():
        password = getpass.getpass("Password (12+ characters, empty to keep the current one): ")
    try:
        user, created = asyncio.run(_run(email, password or None, args.first_name, args.last_name))
    except AppError as exc:
        details = exc.details.get("problems") if isinstance(exc.details, dict) else None
        raise SystemExit(f"{exc.detail_message} {' '.join(details or [])}") from exc
    print(f"{'Created' if created else 'Updated'} platform admin {user.email}.")


async def _run(
    email: str, password: str | None, first: str | None, last: str | None
) -> tuple[User, bool]:
    try:
        return await ensure_platform_admin(email, password, first, last)
    finally:
        await dispose_engine()


if __name__ == "__main__":
    main()
