"""Demo data: `python -m scripts.seed_data`.

The platform's starter courses (core/data/courses/*.yaml, see services.course_catalog), then
a company "Demo Corp" with an admin, a manager and 48 learners in five departments and
four offices, a static pilot group and a rule-based "Finance (France)" group. Safe to run
again: existing rows are left as they are. Prints the logins.
"""

from __future__ import annotations

import asyncio
import random

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import settings
from core.logging import setup_logging
from core.security import hash_password
from db.scoping import bind_tenant
from db.session import dispose_engine, unit_of_work
from models.company import Company
from models.group import Group, GroupKind, GroupMember
from models.user import Role, User, UserStatus
from services.course_catalog import load_catalog

COMPANY = "Demo Corp"
DOMAIN = "demo-corp.example.com"
PASSWORD = "demo-password-change-me"  # noqa: S105 - demo accounts, printed on purpose
DEPARTMENTS = ["Finance", "Sales", "Engineering", "People", "Operations"]
LOCATIONS = ["Paris", "Lyon", "Berlin", "London"]
FIRST = ["Alex", "Sam", "Maya", "Noah", "Lena", "Omar", "Ines", "Tom", "Yuki", "Zoe", "Ravi", "Ada"]
LAST = ["Martin", "Schmidt", "Garcia", "Okafor", "Dubois", "Kowalski", "Nguyen", "Rossi"]
TIMEZONES = {
    "Paris": "Europe/Paris",
    "Lyon": "Europe/Paris",
    "Berlin": "Europe/Berlin",
    "London": "Europe/London",
}


async def seed() -> list[tuple[str, str]]:
    rng = random.Random(7)  # noqa: S311 - demo names, not secrets
    password_hash = await hash_password(PASSWORD)
    async with unit_of_work() as session:
        await load_catalog(session)
    async with unit_of_work() as session:
        company = await session.scalar(
            select(Company).where(Company.name == COMPANY, Company.is_platform.is_(False))
        )
        if company is None:
            company = Company(name=COMPANY, email_domains=[DOMAIN], default_timezone="Europe/Paris")
            session.add(company)
            await session.flush()
        await bind_tenant(session, company.id)
        existing = {u.email for u in (await session.scalars(select(User))).all()}
        people = [
            ("admin", Role.admin, "Operations", "Paris"),
            ("manager", Role.manager, "Finance", "Paris"),
        ]
        for i in range(48):
            people.append(
                (f"learner{i + 1:02d}", Role.learner, DEPARTMENTS[i % 5], LOCATIONS[i % 4])
            )
        for local, role, department, location in people:
            email = f"{local}@{DOMAIN}"
            if email in existing:
                continue
            session.add(
                User(
                    company_id=company.id,
                    email=email,
                    first_name=rng.choice(FIRST),
                    last_name=rng.choice(LAST),
                    department=department,
                    location=location,
                    timezone=TIMEZONES[location],
                    role=role,
                    status=UserStatus.active,
                    password_hash=password_hash,
                )
            )
        await session.flush()
        await _groups(session, company)
    return [(f"{local}@{DOMAIN}", role.value) for local, role, _, _ in people[:3]]


async def _groups(session: AsyncSession, company: Company) -> None:
    names = set((await session.scalars(select(Group.name))).all())
    if "Finance (France)" not in names:
        session.add(
            Group(
                company_id=company.id,
                name="Finance (France)",
                kind=GroupKind.rule,
                rules={
                    "match": "all",
                    "conditions": [
                        {"attribute": "department", "operator": "eq", "value": "Finance"},
                        {"attribute": "location", "operator": "in", "value": ["Paris", "Lyon"]},
                    ],
                },
            )
        )
    if "Pilot" not in names:
        pilot = Group(
            company_id=company.id,
            name="Pilot",
            kind=GroupKind.static,
            description="First wave of the awareness programme",
        )
        session.add(pilot)
        await session.flush()
        learners = (
            await session.scalars(
                select(User.id).where(User.role == Role.learner).order_by(User.email).limit(10)
            )
        ).all()
        session.add_all(
            GroupMember(company_id=company.id, group_id=pilot.id, user_id=u) for u in learners
        )


def main() -> None:
    setup_logging(settings)
    logins = asyncio.run(_run())
    print(f"Demo company '{COMPANY}' is ready (50 people, groups 'Pilot' and 'Finance (France)').")
    print(f"Sign in at {settings.public_url}/docs with POST /api/v1/auth/login; password for all:")
    print(f"  {PASSWORD}")
    for email, role in logins:
        print(f"  {role:<8} {email}")


async def _run() -> list[tuple[str, str]]:
    try:
        return await seed()
    finally:
        await dispose_engine()


if __name__ == "__main__":
    main()
