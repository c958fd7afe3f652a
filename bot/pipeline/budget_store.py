"""The LL2 request budget's hour record, kept in the store (issue 9.6).

:class:`bot.ll2.budget.RequestBudget` loads its record when made and saves it after every
change through a :class:`bot.ll2.budget.BudgetStore`; this one keeps it in the database, so
a restarted ``watch`` or ``run`` does not start from a blank hour and overspend LL2's limit.
"""

from __future__ import annotations

from sqlalchemy import Engine

from bot.config import LL2Settings
from bot.core.timeutil import Clock, utcnow
from bot.ll2.budget import BudgetRecord, RequestBudget
from storage import queries
from storage.db import session_scope


class StoredBudget:
    """A :class:`bot.ll2.budget.BudgetStore` on the database (table ``ll2_budget``)."""

    def __init__(self, engine: Engine, *, clock: Clock = utcnow, name: str = "ll2") -> None:
        self.engine = engine
        self.clock = clock
        self.name = name

    def load_budget(self) -> BudgetRecord | None:
        """Return the saved record, or None when there is none yet."""
        with session_scope(self.engine) as session:
            values = queries.load_budget(session=session, name=self.name)
        if values is None:
            return None
        return BudgetRecord(
            sent=tuple(values.sent), blocked_until=values.blocked_until, per_hour=values.per_hour
        )

    def save_budget(self, record: BudgetRecord) -> None:
        """Save ``record``, replacing the previous one."""
        values = queries.BudgetValues(
            sent=list(record.sent), blocked_until=record.blocked_until, per_hour=record.per_hour
        )
        # Before every LL2 request: a bare connection's transaction, not an ORM session's.
        with self.engine.begin() as connection:
            queries.save_budget(session=connection, values=values, now=self.clock(), name=self.name)


def stored_budget(engine: Engine, settings: LL2Settings, *, clock: Clock = utcnow) -> RequestBudget:
    """Return the LL2 request budget for ``settings``, its hour record kept in the store."""
    return RequestBudget(
        settings.requests_per_hour, clock=clock, store=StoredBudget(engine, clock=clock)
    )
