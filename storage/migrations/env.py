"""Alembic environment: runs against the engine tminus hands in."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # plain `alembic` CLI use: build one from the ini's URL
    from storage.db import make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///tminus.db")

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
