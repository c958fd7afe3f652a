"""A fresh PostgreSQL schema per test (or benchmark), dropped afterwards."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from sqlalchemy import create_engine, text


@contextlib.contextmanager
def postgres_schema(base: str, *, prefix: str = "t") -> Iterator[str]:
    """Yield a URL of ``base`` whose search_path is a new empty schema; drop it on exit."""
    if base.startswith(("postgresql://", "postgres://")):  # psycopg 3, as the store uses
        base = "postgresql+psycopg://" + base.split("://", 1)[1]
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
