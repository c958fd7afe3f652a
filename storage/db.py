"""Engine and session setup, SQLite pragmas and Alembic migrations."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DataError, DBAPIError, IntegrityError, StatementError
from sqlmodel import Session

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


class StorageError(Exception):
    """The database URL or the database itself is unusable."""


def one_line(exc: BaseException) -> str:
    """Return a database error as one line, without SQLAlchemy's SQL echo and help link."""
    orig = getattr(exc, "orig", None)  # DBAPIError: the driver's own message is the news
    text = str(orig if orig is not None else exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def normalise_url(url: str) -> str:
    """Return a SQLAlchemy URL, using psycopg 3 for plain ``postgresql://`` URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout."""
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"storage.url is not a database URL: {exc}") from None
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            folder = Path(database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # under /proc, under a regular file, no permission…
                raise StorageError(
                    f"cannot use {database} as the SQLite store: its folder {folder} "
                    f"cannot be created ({exc.strerror or exc})"
                ) from None
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """Open a session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """Run the block in a SAVEPOINT: an error rolls back only the block, then propagates."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        raw: Any = connection.connection.driver_connection
        if not raw.in_transaction:
            # pysqlite only opens a transaction before INSERT/UPDATE/DELETE; a SAVEPOINT
            # outside one starts its own, and releasing it would commit the page half-way.
            connection.exec_driver_sql("BEGIN")
    with session.begin_nested():
        yield


def refused_by_store(exc: BaseException) -> bool:
    """Return whether ``exc`` is the database refusing a value (not the database failing).

    NUL in PostgreSQL text (``DataError``), a lone surrogate SQLite cannot encode
    (``UnicodeEncodeError``), an integer too large for its column: the row is at fault, and
    another row would go in. A lost connection, a lock or a missing table is not.
    """
    if isinstance(exc, DataError | IntegrityError | UnicodeError | OverflowError):
        return True
    # The driver's own errors are DBAPIError; a bare StatementError wraps a value SQLAlchemy
    # could not bind.
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)


def _alembic_config(engine: Engine) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def current_revision(engine: Engine) -> str | None:
    """Return the database's Alembic revision (None for an empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """Return the newest migration shipped with this version of tminus."""
    return ScriptDirectory.from_config(
        _alembic_config(create_engine("sqlite://"))
    ).get_current_head()


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Apply pending migrations; return (revision before, revision after)."""
    try:
        before = current_revision(engine)
        head = head_revision()
        if before != head:
            command.upgrade(_alembic_config(engine), "head")
    except Exception as exc:  # any driver error: report it as one line
        raise StorageError(f"cannot open the database {engine.url!r}: {one_line(exc)}") from exc
    after = current_revision(engine)
    if before != after:
        log.info("database upgraded from %s to %s", before or "empty", after)
    return before, after
