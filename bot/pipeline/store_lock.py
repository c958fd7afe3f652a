"""One process per SQLite store: a second ``run``/``watch`` refuses to start, saying why.

Two pollers on one SQLite file would each see every change and each print or post it
(docs/architecture.md, invariant 12: several processes are a PostgreSQL feature). The lock
is an OS file lock (``flock``) on a file next to the database, so it is released by the
kernel however the holder dies — ``kill -9`` included — and never needs cleaning up.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)


class StoreRefused(Exception):
    """The store cannot serve this pipeline: another process holds it, or it is in memory."""


def check_lasting(url: str) -> None:
    """Refuse an in-memory database for the pipeline: everything would be lost at exit."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise StoreRefused(
            f"{url} is an in-memory database: the watermark and the outbox would be lost at "
            "exit and everything re-sent; give a file, like sqlite:///tminus.db"
        )


def sqlite_path(url: str) -> Path | None:
    """Return the file of a SQLite URL, or None for other databases (and in-memory ones)."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return None
    if database.startswith("file:"):  # a SQLite URI (sqlite:///file:path?mode=ro&uri=true)
        database = database.removeprefix("file:").split("?", 1)[0]
    return Path(database).expanduser().resolve()


@contextlib.contextmanager
def exclusive_store(url: str) -> Iterator[None]:
    """Hold the store for this process; raise :class:`StoreRefused` if another one holds it."""
    path = sqlite_path(url)
    if path is None:
        yield
        return
    lock_path = path.with_name(path.name + ".lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:  # under /proc, under a regular file, no permission…
        raise StoreRefused(
            f"cannot use {path} as the SQLite store: its folder {path.parent} cannot be "
            f"created or written ({exc.strerror or exc})"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise StoreRefused(
                f"another tminus process (pid {holder}) is already running on {path}; "
                "a SQLite store serves one process — several processes need PostgreSQL "
                "(storage.url = postgresql://…)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        log.debug("holding %s", lock_path)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
