"""ORM models, one module per aggregate. `db.base` imports them all for Alembic."""
