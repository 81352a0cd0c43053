"""HTTP layer: `api_router` gathers every resource router under `/api/v1`."""

from fastapi import APIRouter

api_router = APIRouter(prefix="/api/v1")
