"""Imports every model so that `Base.metadata` is complete (Alembic, tests)."""

from models.base import Base
from models.company import Company

__all__ = ["Base", "Company"]
