"""The poller's lease: on PostgreSQL, exactly one ``tminus run`` polls LL2 at a time.

docs/architecture.md, invariant 12. The lease is a row (``cluster_lease``) with a holder and
an expiry in the database's clock. The holder renews it every quarter period; the others
try to take it as often, and can only once it has expired. So a holder that dies (kill -9),
loses its connection or freezes is replaced within a period and a half: its last renewal
lasts one period, and a peer's next try comes at most a quarter period later.

A frozen holder that wakes must not poll on a lease it no longer has: :attr:`Lease.held` is
a local deadline — the time the last successful renewal was *asked*, plus the period —
which never outlasts the database's expiry, and the runner checks it before every poll and
reminder tick. (An advisory lock would not do: it lives as long as the session, and a frozen
process's session stays open — no one could take over.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping
from datetime import timedelta

from sqlalchemy import Engine

from bot.core.timeutil import human_duration, parse_duration
from storage import cluster
from storage.db import session_scope

log = logging.getLogger(__name__)

POLLER = "poller"
# The lease period: a dead poller is replaced within 1.5 periods (2 at most). Short periods
# cost a row update per process every period/4; 15 s is cheap and quick enough.
DEFAULT_PERIOD = timedelta(seconds=15)
# Tests and operators tuning fail-over set it here (docs/operations.md); it is not a config
# key because every process of a cluster must agree on it.
PERIOD_ENV = "TMINUS_CLUSTER_LEASE"


class LeasePeriodError(ValueError):
    """``TMINUS_CLUSTER_LEASE`` is not a usable duration."""


def lease_period(env: Mapping[str, str] | None = None) -> timedelta:
    """Return the lease period: ``TMINUS_CLUSTER_LEASE`` (1s..10m) or 15 s."""
    raw = (os.environ if env is None else env).get(PERIOD_ENV, "").strip()
    if not raw:
        return DEFAULT_PERIOD
    try:
        period = parse_duration(raw)
    except ValueError:
        raise LeasePeriodError(
            f"{PERIOD_ENV} must be a duration like 2s or 15s, got {raw!r}"
        ) from None
    if not timedelta(seconds=1) <= period <= timedelta(minutes=10):
        raise LeasePeriodError(f"{PERIOD_ENV} must be between 1s and 10m, got {raw!r}")
    return period


def is_cluster_store(engine: Engine) -> bool:
    """Return whether several processes may share this store (PostgreSQL)."""
    return engine.dialect.name == "postgresql"


def process_name() -> str:
    """Return a name for this process, unique per start: host, pid and a random tail."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Lease:
    """One process's side of a lease row: take it, keep it, know whether it is held."""

    def __init__(
        self,
        engine: Engine,
        *,
        owner: str,
        period: timedelta = DEFAULT_PERIOD,
        name: str = POLLER,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.owner = owner
        self.period = period
        self.name = name
        self._monotonic = monotonic
        self._valid_until = 0.0
        self._was_held = False
        # Called (in the event loop) when this process becomes, or stops being, the holder.
        self.on_gain: list[Callable[[], None]] = []
        self.on_loss: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def check_every(self) -> timedelta:
        """How often the lease is renewed or tried (and a follower looks again)."""
        return self.period / 4

    @property
    def held(self) -> bool:
        """Whether this process holds the lease right now (by its own, cautious clock)."""
        return self._monotonic() < self._valid_until

    def step(self) -> bool:
        """Try to take or renew the lease once; return whether it is held afterwards.

        Blocking (one short transaction): the loop runs it in a thread.
        """
        asked = self._monotonic()
        try:
            with session_scope(self.engine) as session:
                expiry = cluster.take_lease(
                    session=session, name=self.name, holder=self.owner, period=self.period
                )
        except Exception as exc:
            # The store is away: keep what we have until it runs out on its own.
            log.warning("could not renew the poller lease: %s", exc)
            return self.held
        if expiry is None:
            self._valid_until = 0.0
        else:
            self._valid_until = asked + self.period.total_seconds()
        return self.held

    def _tell(self) -> None:
        held = self.held
        if held == self._was_held:
            return
        self._was_held = held
        if held:
            log.info(
                "this process now polls LL2 (lease %s, period %s)",
                self.name,
                human_duration(self.period),
            )
        else:
            log.warning("this process no longer holds the poller lease; another one polls")
        for callback in self.on_gain if held else self.on_loss:
            try:
                callback()
            except Exception:
                log.exception("lease callback failed")

    async def run(self) -> None:
        """Keep trying or renewing the lease every quarter period, until cancelled."""
        while True:
            await asyncio.to_thread(self.step)
            self._tell()
            await asyncio.sleep(self.check_every.total_seconds())

    def start(self) -> None:
        """Try once now (the first poll need not wait), then keep at it in a task."""
        self.step()
        self._tell()
        self._task = asyncio.create_task(self.run(), name="tminus-lease")

    async def stop(self) -> None:
        """Stop renewing and give the lease up, so a peer takes over at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._valid_until:
            self._valid_until = 0.0
            try:
                with session_scope(self.engine) as session:
                    cluster.release_lease(session=session, name=self.name, holder=self.owner)
            except Exception as exc:
                log.warning("could not release the poller lease (it expires on its own): %s", exc)
