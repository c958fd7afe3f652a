"""One Discord rate budget for the whole bot: a pacer shared through PostgreSQL.

Discord's global limit (50 requests/s) is per bot, not per process (docs/architecture.md,
invariants 3 and 12). Every process paces its Discord requests on one row of the store
(``rate_pacers``): each request reserves the next free slot, slots ``1/rate`` seconds
apart in the database's clock, and waits for it. Together the processes never go faster
than ``rate``; one process alone gets every slot when the others are idle. A request costs
one short UPDATE (fine at 50/s). When the store does not answer, the process falls back to
its own pacer at the full rate — still within the limit unless others are sending too, and
then Discord's 429s (retried with backoff) keep it honest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine

from bot.app.sink import GLOBAL_RATE, GlobalPacer
from bot.pipeline.lease import is_cluster_store
from storage import cluster
from storage.db import session_scope

log = logging.getLogger(__name__)

# Requests per second for all processes together: Discord allows 50; the headroom absorbs
# the jitter between a slot and the moment the request reaches Discord.
SHARED_RATE = 47.0
PACER = "discord"
# How late (seconds) a process may wake after its slot and still use it, and how many fresh
# slots it takes before sending anyway: 47 slots a second plus 0.05 s of lateness stays
# under 50 in any one-second window.
LATE_SLOT = 0.05
MAX_RETAKES = 5


class SharedPacer(GlobalPacer):
    """Space requests on a pacer row shared by every process of the bot."""

    def __init__(self, engine: Engine, per_second: float = SHARED_RATE, name: str = PACER) -> None:
        super().__init__(per_second)
        self.engine = engine
        self.name = name
        self._fallback = GlobalPacer(per_second)
        self._warned = False
        # Its own threads: a slot must not queue behind the delivery worker's commits in the
        # default pool, or it is late before it is even handed out.
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tminus-pacer")

    def _take(self) -> float:
        with session_scope(self.engine) as session:
            return cluster.take_rate_slot(session=session, name=self.name, interval=self.interval)

    async def wait(self) -> None:
        """Return when this process's next request may go."""
        for _ in range(MAX_RETAKES + 1):
            asked = time.monotonic()
            try:
                delay = await asyncio.get_running_loop().run_in_executor(self._executor, self._take)
            except Exception as exc:
                if not self._warned:
                    log.warning("shared Discord pacer unavailable (%s); pacing locally", exc)
                    self._warned = True
                await self._fallback.wait()
                return
            self._warned = False
            # The store measured ``delay`` from its own "now", somewhere in the round trip:
            # take its middle, so a slow round trip neither makes every slot look late (and
            # lapse: lost throughput) nor sends after the slot by a whole round trip.
            answered = time.monotonic()
            due = (asked + answered) / 2 + max(delay, 0.0)
            if due > answered:
                await asyncio.sleep(due - answered)
            # A process that wakes well after its slot (a busy machine, a slow store
            # round trip) would land on top of the slots handed out after it, and a few
            # such late requests bunch into one second past Discord's 50. Give the slot
            # up and take a fresh one instead: a lapsed slot only costs throughput.
            if time.monotonic() - due <= LATE_SLOT:
                return
        log.debug("shared pacer: still late after %d fresh slots; sending", MAX_RETAKES)


def pacer_for(engine: Engine, local_rate: float = GLOBAL_RATE) -> GlobalPacer:
    """Return the bot's pacer: shared through the store on PostgreSQL, else this process's."""
    if is_cluster_store(engine):
        return SharedPacer(engine)
    return GlobalPacer(local_rate)
