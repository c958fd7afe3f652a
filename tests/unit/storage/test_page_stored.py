"""A stored page's sync-state record: one UPDATE that moves the watermark forward only."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from storage import queries
from storage.db import session_scope
from tests.conftest import T0

MS = timedelta(milliseconds=1)


def _state(engine: Engine, feed: str = "events") -> tuple[object, ...]:
    with session_scope(engine) as session:
        state = queries.sync_state(session=session, feed=feed)
        return state.watermark, state.seeded, state.last_success_at, state.last_error


def test_a_feeds_first_page_creates_its_row_and_seeds_it(engine: Engine) -> None:
    """No row yet: the page creates it with its watermark, success time and seeded flag."""
    with session_scope(engine) as session:
        queries.note_page_stored(
            session=session, feed="launches", now=T0, watermark=T0 - MS, mark_seeded=True
        )
    assert _state(engine, "launches") == (T0 - MS, True, T0, None)
    assert _state(engine, "events") == (None, False, None, None)


def test_the_watermark_moves_forward_only(engine: Engine) -> None:
    """A later change moves it (by a millisecond too); an older one or none leaves it."""
    with session_scope(engine) as session:
        queries.note_page_stored(session=session, feed="events", now=T0, watermark=T0)
        queries.note_page_stored(session=session, feed="events", now=T0, watermark=T0 + MS)
    assert _state(engine)[0] == T0 + MS
    later = T0 + timedelta(minutes=1)
    with session_scope(engine) as session:
        queries.note_page_stored(
            session=session, feed="events", now=later, watermark=T0 - timedelta(days=1)
        )
        queries.note_page_stored(
            session=session, feed="events", now=later, watermark=None, error="store replaced"
        )
    assert _state(engine) == (T0 + MS, False, later, "store replaced")
    with session_scope(engine) as session:
        queries.note_page_stored(session=session, feed="events", now=later, watermark=None)
    assert _state(engine)[3] is None  # the error shown is the latest page's
