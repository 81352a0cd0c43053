"""HTTP layer: `api_router` gathers every resource router under `/api/v1`."""

from fastapi import APIRouter

from api.routes import api_keys, audit_logs, auth, companies, groups, user_import, users

api_router = APIRouter(prefix="/api/v1")
for module in (auth, user_import, users, groups, companies, api_keys, audit_logs):
    api_router.include_router(module.router)
