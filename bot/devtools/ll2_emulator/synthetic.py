"""Seeded synthetic LL2 events (names, dates, precisions, streams, updates) for load tests."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.devtools.ll2_emulator.model import (
    _AGENCIES,
    _ISS,
    _TYPE_NAMES,
    JSONDict,
    _slugify,
    format_ll2_datetime,
    normalize_event,
)


@dataclass(frozen=True)
class _Template:
    type_id: int
    weight: float
    names: tuple[str, ...]  # formatted with {n}
    location: str
    agencies: tuple[int, ...]
    programs: tuple[int, ...]
    station: bool
    duration: str | None


_TEMPLATES = (
    _Template(
        2,
        18,
        (
            "Progress MS-{n} Docking",
            "Soyuz MS-{n} Docking",
            "SpaceX Crew-{n} Crew Dragon Docking",
            "Dragon CRS-{n} Docking",
        ),
        "International Space Station",
        (63, 44, 121),
        (17,),
        True,
        None,
    ),
    _Template(
        8,
        8,
        ("Soyuz MS-{n} Undocking", "SpaceX Crew-{n} Crew Dragon Undocking"),
        "International Space Station",
        (63, 44),
        (17,),
        True,
        None,
    ),
    _Template(
        3,
        12,
        ("US Spacewalk {n}", "Russian Spacewalk {n}", "VKD-{n} Spacewalk"),
        "International Space Station",
        (44, 63),
        (17,),
        True,
        "PT6H30M",
    ),
    _Template(
        20,
        14,
        (
            "Crew-{n} Pre-launch News Conference",
            "International Space Station Operations Update {n}",
            "Artemis Mission Briefing {n}",
        ),
        "Kennedy Space Center, FL, USA",
        (44,),
        (5, 23),
        False,
        "PT1H",
    ),
    _Template(
        9,
        10,
        ("Soyuz MS-{n} Landing", "SpaceX Crew-{n} Splashdown", "Starship Flight {n} Ship Landing"),
        "Kazakhstan",
        (63, 44, 121),
        (17,),
        False,
        None,
    ),
    _Template(
        5,
        10,
        (
            "Starship Flight {n} Static Fire",
            "RS-25 Engine Test {n}",
            "New Glenn NG-{n} Static Fire",
        ),
        "Starbase, TX, USA",
        (121, 44, 141),
        (),
        False,
        "PT10S",
    ),
    _Template(
        4,
        5,
        ("Cygnus NG-{n} Berthing", "HTV-X{n} Berthing"),
        "International Space Station",
        (257, 37, 44),
        (17, 29),
        True,
        None,
    ),
    _Template(
        23,
        6,
        ("Juice Flyby {n}", "Solar Orbiter Venus Flyby {n}", "Psyche Mars Flyby {n}"),
        "Venus",
        (27, 44),
        (),
        False,
        None,
    ),
    _Template(
        16,
        4,
        ("Lunar Orbiter {n} Orbit Insertion", "BepiColombo Mercury Orbit Insertion {n}"),
        "Moon",
        (27, 37, 31),
        (),
        False,
        None,
    ),
    _Template(
        6,
        5,
        ("Juice Antenna Deployment {n}", "Hubble Reboost Maneuver {n}"),
        "Earth orbit",
        (27, 44),
        (),
        False,
        None,
    ),
    _Template(
        12,
        3,
        ("Soyuz MS-{n} Hatch Opening",),
        "International Space Station",
        (63,),
        (17, 8),
        True,
        None,
    ),
    _Template(
        22,
        3,
        ("Artemis {n} Wet Dress Rehearsal",),
        "Kennedy Space Center, FL, USA",
        (44,),
        (23,),
        False,
        "PT12H",
    ),
    _Template(
        15,
        2,
        ("Expedition {n} Change of Command",),
        "International Space Station",
        (44, 63),
        (17,),
        True,
        "PT30M",
    ),
)
_PRECISION_WEIGHTS = ((0, 10), (1, 30), (2, 8), (5, 12), (7, 8), (8, 3), (14, 4), (None, 5))
_UPDATE_AUTHORS = ("Cosmic_Penguin", "LL2", "Nosu", "jay_the_dev")
_LANGUAGES = (
    {"id": 1, "name": "English", "code": "en"},
    {"id": 3, "name": "Russian", "code": "ru"},
    {"id": 5, "name": "Japanese", "code": "ja"},
)
_SOURCES = (
    ("youtube.com", "NASA"),
    ("plus.nasa.gov", "NASA"),
    ("youtube.com", "SpaceX"),
    ("youtube.com", "Роскосмос ТВ"),
    ("x.com", "ESA"),
)


def _round_to_precision(when: datetime, precision: int | None) -> datetime:
    if precision in (None, 1):
        return when.replace(second=0, microsecond=0)
    if precision == 0:
        return when.replace(microsecond=0)
    if precision == 2:
        return when.replace(minute=0, second=0, microsecond=0)
    midnight = when.replace(hour=0, minute=0, second=0, microsecond=0)
    if precision == 5:
        return midnight
    if precision == 7:  # LL2 puts a month-precise date on the month's last day
        first_next = (midnight.replace(day=1) + timedelta(days=32)).replace(day=1)
        return first_next - timedelta(days=1)
    if precision in (8, 9, 10, 11):  # the quarter's last day
        quarter_end = 3 * (precision - 7)
        return _round_to_precision(midnight.replace(month=quarter_end, day=1), 7)
    return midnight.replace(month=12, day=31)  # Year


def _token(rng: random.Random, n: int = 11) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(alphabet) for _ in range(n))


def synthetic_events(
    n: int, *, start: datetime, seed: int = 0, first_id: int = 10_001
) -> list[JSONDict]:
    """Generate ``n`` deterministic, realistic LL2 events (internal shape) around ``start``.

    Ids run ``first_id …first_id+n-1``. Dates step ~18 h from about ``n/4`` steps before
    ``start`` (so both upcoming and previous have events), rounded to each event's
    ``date_precision``. Every ``last_updated`` is distinct and before ``start``, in an
    order unrelated to id or date. Update ids are ``event id * 10 + k``.
    """
    if start.tzinfo is None:
        raise ValueError("start must be tz-aware")
    rng = random.Random(seed)
    weights = [t.weight for t in _TEMPLATES]
    counters: dict[int, int] = {}
    stamp_order = list(range(n))
    rng.shuffle(stamp_order)
    updated_base = start - timedelta(seconds=97 * (n + 1))
    events: list[JSONDict] = []
    for i in range(n):
        event_id = first_id + i
        tpl = rng.choices(_TEMPLATES, weights)[0]
        counters[tpl.type_id] = counters.get(tpl.type_id, 0) + 1
        number = 20 + counters[tpl.type_id]
        name = rng.choice(tpl.names).format(n=number)
        precision = rng.choices(
            [p for p, _ in _PRECISION_WEIGHTS], [w for _, w in _PRECISION_WEIGHTS]
        )[0]
        raw_date = start + timedelta(
            hours=18 * (i - n // 4), minutes=rng.randint(-300, 300), seconds=rng.randint(0, 59)
        )
        if precision == 8:  # "some quarter": the one the date falls in
            precision = 8 + (raw_date.month - 1) // 3
        date = _round_to_precision(raw_date, precision)
        last_updated = updated_base + timedelta(seconds=97 * stamp_order[i] + rng.randint(0, 90))
        agencies = rng.sample(tpl.agencies, k=min(len(tpl.agencies), rng.randint(1, 2)))
        programs = rng.sample(tpl.programs, k=rng.randint(0, len(tpl.programs)))
        updates = []
        for k in range(rng.randint(0, 3)):
            created = last_updated - timedelta(days=3 * (3 - k), minutes=rng.randint(1, 600))
            updates.append(
                {
                    "id": event_id * 10 + k,
                    "profile_image": "https://thespacedevs-dev.nyc3.digitaloceanspaces.com/media/"
                    "profile_images/ll2_profile_20230311134739.png",
                    "comment": rng.choice(
                        (
                            "Added event.",
                            "Updated date and time.",
                            "Added webcast.",
                            "NET moved after launch delay.",
                            "Official Webcast has started",
                        )
                    ),
                    "info_url": f"https://www.nasa.gov/blogs/spacestation/{event_id}-{k}/",
                    "created_by": rng.choice(_UPDATE_AUTHORS),
                    "created_on": format_ll2_datetime(created),
                }
            )
        fine = precision in (None, 0, 1, 2)
        vid_urls = []
        for k in range(rng.choice((0, 0, 1, 1, 2, 3))):
            source, publisher = rng.choice(_SOURCES)
            begins = date - timedelta(minutes=rng.choice((30, 45, 60, 90))) if fine else None
            vid_urls.append(
                {
                    "priority": 10 + k,
                    "source": source,
                    "publisher": publisher,
                    "title": f"{name} (coverage {k + 1})",
                    "description": f"Live coverage of {name}.",
                    "feature_image": None,
                    "url": f"https://www.youtube.com/watch?v={_token(rng)}",
                    "type": {"id": 1, "name": "Official Webcast"},
                    "language": dict(_LANGUAGES[0] if k == 0 else rng.choice(_LANGUAGES)),
                    "start_time": format_ll2_datetime(begins) if begins else None,
                    "end_time": format_ll2_datetime(begins + timedelta(hours=2))
                    if begins
                    else None,
                    "live": False,
                }
            )
        # a stream that should be on right now is live, as LL2 would show it
        live = bool(vid_urls) and fine and abs(date - start) <= timedelta(hours=1)
        if live:
            vid_urls[0]["live"] = True
        info_urls = []
        if rng.random() < 0.3:
            info_urls.append(
                {
                    "priority": 10,
                    "source": "nasa.gov",
                    "title": f"{name} mission page",
                    "description": None,
                    "feature_image": None,
                    "url": f"https://www.nasa.gov/missions/{event_id}/",
                    "type": {"id": 1, "name": "Official Page"},
                    "language": dict(_LANGUAGES[0]),
                }
            )
        image_id = 2000 + tpl.type_id
        image_url = (
            "https://thespacedevs-dev.nyc3.digitaloceanspaces.com/media/images/"
            f"event_{tpl.type_id}_image_20240305191923.jpeg"
        )
        events.append(
            normalize_event(
                {
                    "id": event_id,
                    "slug": f"{_slugify(name)}-{event_id}",
                    "name": name,
                    "type": tpl.type_id,
                    "description": f"{name}: a synthetic {_TYPE_NAMES[tpl.type_id]} event for "
                    f"tminus tests.",
                    "webcast_live": live,
                    "location": "Mars" if "Mars" in name else tpl.location,
                    "news_url": f"https://blogs.nasa.gov/{event_id}/"
                    if rng.random() < 0.2
                    else None,
                    "info_urls": info_urls,
                    "vid_urls": vid_urls,
                    "image": {
                        "id": image_id,
                        "name": f"{_TYPE_NAMES[tpl.type_id]} image",
                        "image_url": image_url,
                        "thumbnail_url": image_url.replace("_image_", "_thumb_"),
                        "credit": "NASA",
                        "license": {
                            "id": 4,
                            "name": "NASA Image and Media Guidelines",
                            "priority": 0,
                            "link": "https://www.nasa.gov/nasa-brand-center/images-and-media/",
                        },
                        "single_use": False,
                        "variants": [],
                    },
                    "date": date,
                    "date_precision": precision,
                    "duration": tpl.duration,
                    "updates": updates,
                    "last_updated": last_updated,
                    "agencies": [_AGENCIES[a] for a in agencies],
                    "program": list(programs),
                    "spacestations": [_ISS] if tpl.station else [],
                }
            )
        )
    return events


# --------------------------------------------------------------------------------------
# faults, request log
