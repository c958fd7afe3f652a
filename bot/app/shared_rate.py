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
from collections import deque
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
# A slot is reserved at least as far ahead as the recent store round trips took (at most
# MAX_LEAD), so the answer is back before the slot is due instead of after it.
MAX_LEAD = 0.25


class StoreClock:
    """Estimate the store's wall clock on ours from round trips, as NTP does.

    Each slot comes with the database's clock at the moment it was handed out, somewhere
    inside the round trip. The round trip with the least delay among the recent ones places
    it best: its middle is at most half that round trip off. A slot placed that way is sent
    neither early (bunching with the slots before it) nor a whole round trip late.
    """

    def __init__(self, keep: int = 64) -> None:
        self._samples: deque[tuple[float, float]] = deque(maxlen=keep)  # (round trip, offset)

    def sample(self, asked: float, answered: float, store_now: float) -> None:
        """Record one round trip: our clock before and after, the store's in between."""
        self._samples.append((answered - asked, store_now - (asked + answered) / 2))

    @property
    def offset(self) -> float:
        """Seconds to add to our clock to get the store's."""
        return min(self._samples)[1] if self._samples else 0.0


class SharedPacer(GlobalPacer):
    """Space requests on a pacer row shared by every process of the bot."""

    def __init__(self, engine: Engine, per_second: float = SHARED_RATE, name: str = PACER) -> None:
        super().__init__(per_second)
        self.engine = engine
        self.name = name
        self.clock = StoreClock()
        self._fallback = GlobalPacer(per_second)
        self._warned = False
        self._trips: deque[float] = deque(maxlen=16)
        # Its own threads: a slot must not queue behind the delivery worker's commits in the
        # default pool, or it is late before it is even handed out.
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tminus-pacer")

    def _take(self) -> cluster.RateSlot:
        """Reserve a slot, timing the statement itself (not the queue or the commit)."""
        with session_scope(self.engine) as session:
            asked = time.time()  # wall clock, as the store's slots are
            slot = cluster.take_rate_slot(
                session=session, name=self.name, interval=self.interval, lead=self.lead
            )
            self.clock.sample(asked, time.time(), slot.now)
        return slot

    @property
    def lead(self) -> float:
        """How far ahead to reserve: the slowest recent round trip, within MAX_LEAD."""
        return min(MAX_LEAD, max(self._trips, default=0.0))

    async def wait(self) -> None:
        """Return when this process's next request may go."""
        for _ in range(MAX_RETAKES + 1):
            try:
                asked = time.monotonic()
                slot = await asyncio.get_running_loop().run_in_executor(self._executor, self._take)
                self._trips.append(time.monotonic() - asked)
            except Exception as exc:
                if not self._warned:
                    log.warning("shared Discord pacer unavailable (%s); pacing locally", exc)
                    self._warned = True
                await self._fallback.wait()
                return
            self._warned = False
            due = slot.at - self.clock.offset  # the slot on our clock
            now = time.time()
            if due > now:
                await asyncio.sleep(due - now)
            # A process that wakes well after its slot (a busy machine) would land on top of
            # the slots handed out after it, and a few such late requests bunch into one
            # second past Discord's 50. Give the slot up and take a fresh one instead: a
            # lapsed slot only costs throughput.
            if time.time() - due <= LATE_SLOT:
                return
        log.debug("shared pacer: still late after %d fresh slots; sending", MAX_RETAKES)


def pacer_for(engine: Engine, local_rate: float = GLOBAL_RATE) -> GlobalPacer:
    """Return the bot's pacer: shared through the store on PostgreSQL, else this process's."""
    if is_cluster_store(engine):
        return SharedPacer(engine)
    return GlobalPacer(local_rate)
