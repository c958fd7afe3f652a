"""A loopback emulator of the Launch Library 2 API, for ``tminus demo``, developers and tests.

It serves the event and launch endpoints of LL2 2.2.0 (singular paths) and 2.3.0 (plural
paths) in each version's real shape (launches in ``mode`` list, normal or detailed), with
LL2's filters, ordering and limit/offset pagination, the hourly request budget (HTTP 429
with LL2's body), ``/api-throttle/``, injectable faults and a control API (``/_control/…``
over HTTP, the same as methods on :class:`LL2Emulator`) to script changes: a new update, a
webcast going live, a slip, a new or deleted event; a launch's status, NET and webcast.

``last_updated`` and ordering: every mutation stamps ``last_updated`` with the clock, kept
to the microsecond and strictly increasing from one mutation to the next. Answers serialise
it the way LL2 does, to the second (``2025-11-27T12:46:33Z``), while filtering
(``last_updated__gte``/``__lte``) and ``ordering=last_updated`` use the exact value, like
the database behind LL2. So several events can show the same second yet come back in their
true order, and ``last_updated__gte=<a value you were served>`` always includes the event
you were served it from (and every other one changed in that same second): poll with
``__gte`` and expect to see the watermark's own second again; ``__gt`` on a served value
can skip changes made later within that second.

Control API (JSON; never logged, never counted, never faulted):
``GET|POST /_control/events`` (list | add one, any shape), ``GET|PATCH|DELETE
/_control/events/{id}``, ``POST /_control/events/{id}/updates`` {comment, info_url,
created_by}, ``POST …/webcast`` {live, vid_url?}, ``POST …/vid_urls`` {url, priority?,
start_time?, …}, ``POST …/date`` {date, date_precision?}; for launches (UUID ids) ``GET|POST
/_control/launches``, ``GET|PATCH|DELETE /_control/launches/{id}``, ``POST …/status``
{status (id, name or abbrev), holdreason?, failreason?}, ``POST …/net`` {net | by_seconds,
net_precision?} (the window moves with it), ``POST …/webcast``, ``…/updates``,
``…/vid_urls`` as for events; ``GET|DELETE /_control/requests``,
``GET|POST|DELETE /_control/faults`` {kind, count, path, status, delay, retry_after,
drop_fields}, ``POST /_control/faults/storm`` {p, kinds, seed, statuses, delay, path},
``GET|POST /_control/limit`` {requests_per_hour}, ``POST /_control/limit/reset`` {ip?,
api_key?}. Unknown event: 404; bad body: 400 ``{"detail": …}``.

The package: ``model`` (constants, datetimes, the internal event shape), ``render`` (2.2.0
and 2.3.0 answers, bundled recordings), ``synthetic`` (seeded events for load tests),
``faults``, ``routes`` (URL and query helpers), ``store``/``query``/``control`` (the
emulator's event store, LL2's filters and ordering, the control API), ``launches`` and
``launch_store`` (the launch shape, its 2.2.0/2.3.0 answers and recordings; the launch
store, filters and changes) and ``server`` (the HTTP server and :func:`serve`).
"""

from bot.devtools.ll2_emulator.faults import Fault, FaultKind, RecordedRequest
from bot.devtools.ll2_emulator.launches import (
    LAUNCH_STATUSES,
    load_recorded_launches,
    normalize_launch,
    render_launch,
)
from bot.devtools.ll2_emulator.model import (
    DATE_PRECISIONS,
    EVENT_TYPES,
    VERSIONS,
    Clock,
    FakeClock,
    format_ll2_datetime,
    normalize_event,
    parse_ll2_datetime,
)
from bot.devtools.ll2_emulator.query import TieOrder
from bot.devtools.ll2_emulator.render import load_recorded_events, render_event
from bot.devtools.ll2_emulator.routes import ServedPage
from bot.devtools.ll2_emulator.server import LL2Emulator, serve
from bot.devtools.ll2_emulator.synthetic import synthetic_events

__all__ = [
    "DATE_PRECISIONS",
    "EVENT_TYPES",
    "VERSIONS",
    "Clock",
    "FakeClock",
    "LAUNCH_STATUSES",
    "Fault",
    "FaultKind",
    "LL2Emulator",
    "RecordedRequest",
    "ServedPage",
    "TieOrder",
    "format_ll2_datetime",
    "load_recorded_events",
    "load_recorded_launches",
    "normalize_event",
    "normalize_launch",
    "parse_ll2_datetime",
    "render_event",
    "render_launch",
    "serve",
    "synthetic_events",
]
