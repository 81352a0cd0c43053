"""What each role may do, declared in one place.

Routes state the permission they need with `require(Permission.x)`
(api/dependencies/auth.py); `tests/api/test_rbac.py` walks every route and every role and
checks the answer against this table, so a route cannot forget its check.
"""

from __future__ import annotations

from enum import StrEnum

from models.user import Role


class Permission(StrEnum):
    users_read = "users:read"
    users_write = "users:write"
    groups_read = "groups:read"
    groups_write = "groups:write"
    company_read = "company:read"
    company_write = "company:write"
    api_keys_manage = "api_keys:manage"
    audit_read = "audit:read"
    platform_companies = "platform:companies"
    phishing_manage = "phishing:manage"
    content_manage = "content:manage"
    webhooks_manage = "webhooks:manage"
    training_manage = "training:manage"
    training_read = "training:read"


_ADMIN = frozenset(
    {
        Permission.users_read,
        Permission.users_write,
        Permission.groups_read,
        Permission.groups_write,
        Permission.company_read,
        Permission.company_write,
        Permission.api_keys_manage,
        Permission.audit_read,
        Permission.phishing_manage,
        Permission.content_manage,
        Permission.webhooks_manage,
        Permission.training_manage,
        Permission.training_read,
    }
)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.platform_admin: _ADMIN | {Permission.platform_companies},
    Role.admin: _ADMIN,
    # Managers read the people and groups they report on; they change nothing.
    # Training progress is limited to the people in their groups (services.training_progress).
    Role.manager: frozenset(
        {
            Permission.users_read,
            Permission.groups_read,
            Permission.company_read,
            Permission.training_read,
        }
    ),
    Role.learner: frozenset(),
}


def allowed(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]
