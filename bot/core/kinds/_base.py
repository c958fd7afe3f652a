"""What an alert kind is: its name, its look, its detector (docs/architecture.md, "Alert kinds").

A kind is declared once, as a :class:`Kind` named ``KIND`` in its own module of this package.
The core may not import the renderer (docs/architecture.md, "Layout"), so a kind describes its
look through :class:`Markup`, an interface the renderer implements for Discord.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from bot.core.items import DatePrecision, EventUpdate

if TYPE_CHECKING:
    from bot.core.alerts import Alert, Item


@dataclass(frozen=True, slots=True)
class DetectContext:
    """What a detector may know besides the two snapshots: the sync's situation."""

    # The store is being filled for the first time (docs/architecture.md, invariant 4).
    seeding: bool
    now: datetime
    reschedule_threshold: timedelta
    # The date (and its precision name) users were last told about this item: ``rescheduled``
    # compares with it rather than the previous snapshot. None: the stored snapshot's date.
    announced_date: datetime | None = None
    announced_precision: str | None = None


class Markup(Protocol):
    """The renderer's building blocks a kind may use for its content line and embed."""

    def name(self, event: Item) -> str:
        """Return the item's name, bold and escaped."""
        ...

    def text(self, text: str | None) -> str:
        """Return LL2 text cleaned and folded to one line."""
        ...

    def date(self, when: datetime | None, precision: DatePrecision | None) -> str:
        """Return a date no finer than ``precision`` (``NET November 2026``)."""
        ...

    def lead(self, lead: timedelta | None) -> str:
        """Return how long until the item starts: ``in 1h``."""
        ...

    def update(self, update: EventUpdate) -> str:
        """Return an update's comment, time and link as one field value."""
        ...

    def webcasts(self, event: Item) -> str:
        """Return the item's webcast links, one per line, best first."""
        ...


@dataclass(frozen=True, slots=True)
class Look:
    """The part of an alert's embed that depends on its kind; the renderer adds the item's."""

    banner: str  # the embed's author line, emoji included
    banner_icon: str | None = None  # an LL2 URL; the renderer drops it unless valid
    fields: Sequence[tuple[str, str]] = ()  # (name, value), shown before the item's fields
    show_date: bool = True  # False when the kind's own fields already show the date
    link_webcast: bool = False  # the title links the webcast rather than a page about the item


Detector = Callable[["Item | None", "Item", DetectContext], "list[Alert]"]
ContentLine = Callable[["Alert", Markup], str]
EmbedLook = Callable[["Alert", Markup], Look]


@dataclass(frozen=True, eq=False)
class Kind:
    """One kind of alert: declared once, in its own module, and found by the registry.

    Two kinds are never equal unless they are the same object, so ``alert.kind is X.KIND``
    and ``alert.kind == X.KIND`` agree.
    """

    name: str  # the ``kind`` in JSON, the word users type in ``kinds``
    label: str  # a few words for people: "Webcast live"
    when: str  # one line: when it fires (help texts, docs)
    discriminator: str  # what tells two alerts of this kind about one item apart
    colour: int  # the embed's colour
    emoji: str
    rank: int  # where it sorts in lists, and among the alerts of one change
    detect: Detector | None  # None: time-driven, not found by change detection
    content: ContentLine  # the message's content line (pings go in front of it)
    look: EmbedLook  # the embed's banner and the kind's own fields

    @property
    def value(self) -> str:
        """Return the kind's name (what an enum member's ``value`` was)."""
        return self.name

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Kind {self.name}>"
