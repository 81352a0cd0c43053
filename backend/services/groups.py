"""Groups: static lists of people, and rule-based groups whose members are whoever matches
the rules right now (no stored membership to go stale).

A rule is `{"attribute", "operator", "value"}`; a group has `{"match": "all"|"any",
"conditions": [...]}`. The same rules become a SQL filter (to list members at any size) and
a Python check (to explain, per member, which conditions they matched).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.exceptions import AppError, BadRequest, NotFound
from db.pagination import PageParams, PageResult, paginate
from db.scoping import AuthContext, RequestMeta, get_scoped, scoped_select
from models.group import Group, GroupKind, GroupManager, GroupMember
from models.user import Role, User
from schemas.group import Condition, GroupCreate, GroupUpdate, RuleSet
from services import audit


class GroupNotFound(NotFound):
    code = "group_not_found"
    message = "No such group."


class GroupNameTaken(AppError):
    status_code = 409
    code = "group_name_taken"
    message = "Another group already has this name."


class NotAStaticGroup(AppError):
    status_code = 409
    code = "not_a_static_group"
    message = "Members of a rule-based group follow its rules; change the rules instead."


class UnknownMembers(BadRequest):
    code = "unknown_users"
    message = "Some users do not exist in this company."


USER_COLUMNS = {
    "department": User.department,
    "job_title": User.job_title,
    "location": User.location,
    "role": User.role,
    "locale": User.locale,
    "timezone": User.timezone,
    "status": User.status,
}


def _column(attribute: str) -> Any:
    if attribute.startswith("custom."):
        return User.custom_attributes[attribute.removeprefix("custom.")].as_string()
    return USER_COLUMNS[attribute]


def _email_domain_sql(operator: str, values: list[str]) -> ColumnElement[bool]:
    """Emails are stored lower-case, so a domain test is a suffix test on every backend."""
    if operator == "contains":
        escaped = values[0].lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return User.email.like(f"%@%{escaped}%", escape="\\")
    matches = or_(*(User.email.endswith("@" + v.lower(), autoescape=True) for v in values))
    return ~matches if operator in ("neq", "not_in") else matches


def _condition_sql(cond: Condition) -> ColumnElement[bool]:
    values = [str(v) for v in cond.value] if isinstance(cond.value, list) else [str(cond.value)]
    if cond.attribute == "email_domain":
        return _email_domain_sql(cond.operator, values)
    column = _column(cond.attribute)
    test: ColumnElement[bool]
    match cond.operator:
        case "eq":
            test = column == values[0]
        case "neq":
            test = or_(column.is_(None), column != values[0])
        case "in":
            test = column.in_(values)
        case "not_in":
            test = or_(column.is_(None), column.not_in(values))
        case _:  # "contains"; the schema allows no other operator
            test = func.lower(column).contains(values[0].lower(), autoescape=True)
    return test


def rules_filter(rules: RuleSet) -> ColumnElement[bool]:
    parts = [_condition_sql(c) for c in rules.conditions]
    if not parts:
        return false()
    return and_(*parts) if rules.match == "all" else or_(*parts)


def _value_of(user: User, attribute: str) -> str | None:
    if attribute.startswith("custom."):
        raw = (user.custom_attributes or {}).get(attribute.removeprefix("custom."))
        return None if raw is None else str(raw)
    if attribute == "email_domain":
        return user.email.split("@", 1)[1]
    value = getattr(user, attribute)
    return None if value is None else str(value)


def condition_matches(user: User, cond: Condition) -> bool:
    actual = _value_of(user, cond.attribute)
    values = [str(v) for v in cond.value] if isinstance(cond.value, list) else [str(cond.value)]
    match cond.operator:
        case "eq":
            return actual == values[0]
        case "neq":
            return actual != values[0]
        case "in":
            return actual in values
        case "not_in":
            return actual not in values
        case _:  # "contains"; the schema allows no other operator
            return actual is not None and values[0].lower() in actual.lower()


def describe(cond: Condition) -> str:
    shown = ", ".join(map(str, cond.value)) if isinstance(cond.value, list) else cond.value
    words = {"eq": "=", "neq": "≠", "in": "in", "not_in": "not in", "contains": "contains"}
    return f"{cond.attribute} {words[cond.operator]} {shown}"


def explain(user: User, group: Group) -> list[str]:
    """Why `user` is in `group`, in words."""
    if group.kind is GroupKind.static:
        return ["added to the group"]
    rules = RuleSet.model_validate(group.rules)
    return [f"matched rule: {describe(c)}" for c in rules.conditions if condition_matches(user, c)]


# --- groups ------------------------------------------------------------------------------


def managed_by(auth: AuthContext) -> Select[Any]:
    """Ids of the groups the calling manager manages."""
    return select(GroupManager.group_id).where(
        GroupManager.company_id == auth.company_id, GroupManager.user_id == auth.user_id
    )


async def get_group(session: AsyncSession, auth: AuthContext, group_id: uuid.UUID) -> Group:
    group = await get_scoped(session, Group, group_id, auth, error=GroupNotFound)
    # A manager sees only the groups they manage; the others do not exist for them.
    if auth.role is Role.manager and group.id not in set(
        (await session.scalars(managed_by(auth))).all()
    ):
        raise GroupNotFound()
    return group


async def list_groups(
    session: AsyncSession, auth: AuthContext, page: PageParams
) -> PageResult[Group]:
    stmt = scoped_select(Group, auth)
    if auth.role is Role.manager:
        stmt = stmt.where(Group.id.in_(managed_by(auth)))
    return await paginate(session, stmt, page, order_by=(Group.id,))


async def manager_ids(session: AsyncSession, group: Group) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(GroupManager.user_id).where(GroupManager.group_id == group.id)
    )
    return list(rows.all())


class InvalidManagers(BadRequest):
    code = "invalid_group_managers"
    message = "Group managers must be managers or admins of this company."


async def set_managers(
    session: AsyncSession,
    auth: AuthContext,
    group_id: uuid.UUID,
    user_ids: Sequence[uuid.UUID],
    *,
    meta: RequestMeta,
) -> Group:
    group = await get_group(session, auth, group_id)
    wanted = set(user_ids)
    eligible = set(
        (
            await session.scalars(
                scoped_select(User, auth)
                .with_only_columns(User.id)
                .where(User.id.in_(wanted), User.role.in_((Role.manager, Role.admin)))
            )
        ).all()
    )
    if missing := wanted - eligible:
        raise InvalidManagers(details={"user_ids": sorted(map(str, missing))})
    await session.execute(delete(GroupManager).where(GroupManager.group_id == group.id))
    session.add_all(
        GroupManager(company_id=group.company_id, group_id=group.id, user_id=u) for u in wanted
    )
    await session.flush()
    await audit.record(
        session,
        "group.managers_set",
        auth=auth,
        target=("group", group.id),
        meta=meta,
        changes={"user_ids": sorted(map(str, wanted))},
    )
    return group


async def managed_people_filter(session: AsyncSession, auth: AuthContext) -> ColumnElement[bool]:
    """Users a manager may see: the current members of the groups they manage."""
    managed = (
        await session.scalars(scoped_select(Group, auth).where(Group.id.in_(managed_by(auth))))
    ).all()
    parts: list[ColumnElement[bool]] = []
    static = [g.id for g in managed if g.kind is GroupKind.static]
    if static:
        parts.append(
            User.id.in_(select(GroupMember.user_id).where(GroupMember.group_id.in_(static)))
        )
    parts += [
        rules_filter(RuleSet.model_validate(g.rules)) for g in managed if g.kind is GroupKind.rule
    ]
    return or_(*parts) if parts else false()


async def create_group(
    session: AsyncSession, auth: AuthContext, data: GroupCreate, *, meta: RequestMeta
) -> Group:
    group = Group(
        company_id=auth.company_id,
        name=data.name,
        description=data.description,
        kind=data.kind,
        rules=data.rules.model_dump() if data.rules else None,
    )
    session.add(group)
    await _flush_unique(session)
    if data.member_ids:
        await add_members(session, auth, group.id, data.member_ids, meta=meta, audit_it=False)
    await audit.record(
        session,
        "group.created",
        auth=auth,
        target=("group", group.id),
        meta=meta,
        changes={"name": data.name, "kind": data.kind},
    )
    return group


async def _flush_unique(session: AsyncSession) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise GroupNameTaken() from exc


async def update_group(
    session: AsyncSession,
    auth: AuthContext,
    group_id: uuid.UUID,
    data: GroupUpdate,
    *,
    meta: RequestMeta,
) -> Group:
    group = await get_group(session, auth, group_id)
    changes = data.model_dump(exclude_unset=True)
    if "rules" in changes:
        if group.kind is not GroupKind.rule:
            raise NotAStaticGroup("Only rule-based groups have rules.")
        if data.rules is None:
            raise BadRequest("A rule-based group needs rules.")
        group.rules = data.rules.model_dump()
    if "name" in changes and data.name is not None:
        group.name = data.name
    if "description" in changes:
        group.description = data.description
    await _flush_unique(session)
    await audit.record(
        session,
        "group.updated",
        auth=auth,
        target=("group", group.id),
        meta=meta,
        changes={k: str(v) for k, v in changes.items()},
    )
    return group


async def delete_group(
    session: AsyncSession, auth: AuthContext, group_id: uuid.UUID, *, meta: RequestMeta
) -> None:
    group = await get_group(session, auth, group_id)
    group.soft_delete()
    await audit.record(session, "group.deleted", auth=auth, target=("group", group.id), meta=meta)


# --- members -----------------------------------------------------------------------------


def members_query(group: Group) -> Select[Any]:
    """Current members: listed ones for a static group, matching ones for a rule group.
    Disabled users stay members (they are skipped where it matters, e.g. sending)."""
    stmt = select(User).where(User.company_id == group.company_id)
    if group.kind is GroupKind.static:
        listed = select(GroupMember.user_id).where(GroupMember.group_id == group.id)
        return stmt.where(User.id.in_(listed))
    return stmt.where(rules_filter(RuleSet.model_validate(group.rules)))


async def audience_filter(
    session: AsyncSession,
    company_id: uuid.UUID,
    group_ids: Sequence[uuid.UUID | str],
    user_ids: Sequence[uuid.UUID | str],
) -> ColumnElement[bool] | None:
    """Users in any of the groups (as of now) or listed by id; None when nothing is named.
    Combine with the company and status filters the caller needs."""
    groups = (
        await session.scalars(
            select(Group).where(
                Group.company_id == company_id,
                Group.id.in_([uuid.UUID(str(g)) for g in group_ids]),
            )
        )
    ).all()
    reasons: list[ColumnElement[bool]] = []
    for group in groups:
        if group.kind is GroupKind.static:
            listed = select(GroupMember.user_id).where(GroupMember.group_id == group.id)
            reasons.append(User.id.in_(listed))
        else:
            reasons.append(rules_filter(RuleSet.model_validate(group.rules)))
    if user_ids:
        reasons.append(User.id.in_([uuid.UUID(str(u)) for u in user_ids]))
    return or_(*reasons) if reasons else None


@dataclass(frozen=True, slots=True)
class Member:
    user: User
    reasons: list[str]


async def list_members(
    session: AsyncSession, auth: AuthContext, group_id: uuid.UUID, page: PageParams
) -> PageResult[Member]:
    group = await get_group(session, auth, group_id)
    result = await paginate(session, members_query(group), page, order_by=(User.id,))
    return PageResult(
        items=[Member(u, explain(u, group)) for u in result.items], next_cursor=result.next_cursor
    )


async def count_members(session: AsyncSession, group: Group) -> int:
    subquery = members_query(group).with_only_columns(User.id).subquery()
    return int(await session.scalar(select(func.count()).select_from(subquery)) or 0)


async def _static_group(session: AsyncSession, auth: AuthContext, group_id: uuid.UUID) -> Group:
    group = await get_group(session, auth, group_id)
    if group.kind is not GroupKind.static:
        raise NotAStaticGroup()
    return group


async def add_members(
    session: AsyncSession,
    auth: AuthContext,
    group_id: uuid.UUID,
    user_ids: Sequence[uuid.UUID],
    *,
    meta: RequestMeta,
    audit_it: bool = True,
) -> int:
    group = await _static_group(session, auth, group_id)
    wanted = set(user_ids)
    found = set(
        (
            await session.scalars(
                scoped_select(User, auth).with_only_columns(User.id).where(User.id.in_(wanted))
            )
        ).all()
    )
    if missing := wanted - found:
        raise UnknownMembers(details={"user_ids": sorted(map(str, missing))})
    present = set(
        (
            await session.scalars(
                select(GroupMember.user_id).where(GroupMember.group_id == group.id)
            )
        ).all()
    )
    new = wanted - present
    session.add_all(
        GroupMember(company_id=group.company_id, group_id=group.id, user_id=u) for u in new
    )
    await session.flush()
    if new:
        # Imported here: training campaigns build on groups (audience_filter).
        from services.training_campaigns import enroll_new_group_members

        await enroll_new_group_members(session, group.company_id, group.id)
    if audit_it and new:
        await audit.record(
            session,
            "group.members_added",
            auth=auth,
            target=("group", group.id),
            meta=meta,
            changes={"user_ids": sorted(map(str, new))},
        )
    return len(new)


async def remove_members(
    session: AsyncSession,
    auth: AuthContext,
    group_id: uuid.UUID,
    user_ids: Sequence[uuid.UUID],
    *,
    meta: RequestMeta,
) -> None:
    group = await _static_group(session, auth, group_id)
    await session.execute(
        delete(GroupMember).where(
            GroupMember.group_id == group.id, GroupMember.user_id.in_(set(user_ids))
        )
    )
    await audit.record(
        session,
        "group.members_removed",
        auth=auth,
        target=("group", group.id),
        meta=meta,
        changes={"user_ids": sorted(map(str, set(user_ids)))},
    )
