"""Migrate the database to the newest revision: `python -m scripts.migrate [revision]`.

Safe to run from many replicas at once on PostgreSQL (advisory lock)."""

from __future__ import annotations

import argparse
import asyncio

from core.config import settings
from core.logging import setup_logging
from db.migrations import migrate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("revision", nargs="?", default="head")
    parser.add_argument("--downgrade", action="store_true", help="go down to REVISION instead")
    args = parser.parse_args()
    setup_logging(settings)
    asyncio.run(migrate(revision=args.revision, downgrade=args.downgrade))


if __name__ == "__main__":
    main()
