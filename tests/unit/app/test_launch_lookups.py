"""Launch lookups (/launches, tminus launches) on a real store: filters, search, show, live."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.app import launches as lookups
from bot.app import service, subscriptions
from bot.core.launches import Launch
from bot.core.options import UsageError
from bot.ll2.parse import parse_launch
from bot.pipeline.records import launch_record
from storage import queries
from storage.db import session_scope
from storage.models import Subscription

NOW = datetime(2026, 2, 1, tzinfo=UTC)
STARLINK = "6f2868b8-1000-48e5-893b-700c1371b4fb"
ARTEMIS = "41699701-2ef4-4b0c-ac9d-6757820cde87"
SPX_34 = "e60aa241-1f2c-4459-ba94-2f576c3e5632"
SPACEX, ROCKET_LAB = 121, 147
CAPE_CANAVERAL, KENNEDY = 12, 27
ARTEMIS_PROGRAM, ISS_PROGRAM = 15, 17


def recorded() -> list[dict[str, Any]]:
    """Return the 14 recorded 2.2.0 launches shipped in bot/data/ll2."""
    path = files("bot").joinpath("data", "ll2", "launches-selection.2.2.0.json")
    results: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["results"]
    return results


def store(engine: Engine, raws: Iterable[dict[str, Any]]) -> None:
    """Save launches as sync would."""
    with session_scope(engine) as session:
        records = [launch_record(parse_launch(raw), raw) for raw in raws]
        queries.save_launches(session=session, records=records, now=NOW)


@pytest.fixture
def launches(engine: Engine) -> Engine:
    """Return a store holding the 14 recorded launches."""
    store(engine, recorded())
    return engine


def names(found: list[Launch]) -> list[str]:
    """Return the launches' names, in order."""
    return [launch.name for launch in found]


# --- upcoming and next --------------------------------------------------------------------


def test_upcoming_lists_launches_after_now_soonest_first(launches: Engine) -> None:
    """Only launches with a NET from now on, by NET; past ones (January) are left out."""
    found = lookups.upcoming_launches(launches, lookups.LaunchFilters(), now=NOW, count=25)
    assert len(found) == 8
    assert found[0].id == STARLINK
    nets = [launch.net for launch in found]
    assert nets == sorted(nets)  # type: ignore[type-var]
    assert all(net is not None and net >= NOW for net in nets)


@pytest.mark.parametrize("provider", ["SpaceX", "spacex", "SpX", str(SPACEX)])
def test_provider_filter_takes_a_name_an_abbreviation_or_an_id(
    launches: Engine, provider: str
) -> None:
    """provider:SpaceX, spacex, SpX and 121 all mean SpaceX's upcoming launches."""
    filters = lookups.resolve_launch_filters(
        launches, provider=provider, location=None, program=None
    )
    assert filters.provider_ids == (SPACEX,)
    found = lookups.upcoming_launches(launches, filters, now=NOW, count=10)
    assert [launch.id for launch in found] == [STARLINK, SPX_34]


def test_location_and_program_filters_narrow_the_list(launches: Engine) -> None:
    """location:Kennedy finds Artemis II; program:International Space Station the ISS flights."""
    by_site = lookups.resolve_launch_filters(
        launches, provider=None, location="Kennedy Space Center, FL, USA", program=None
    )
    assert by_site.location_ids == (KENNEDY,)
    assert [x.id for x in lookups.upcoming_launches(launches, by_site, now=NOW, count=5)] == [
        ARTEMIS
    ]
    by_program = lookups.resolve_launch_filters(
        launches, provider=None, location=None, program="International Space Station"
    )
    found = lookups.upcoming_launches(launches, by_program, now=NOW, count=5)
    assert names(found) == [
        "Soyuz 2.1a | Progress MS-33 (94P)",
        "Falcon 9 Block 5 | Dragon CRS-2 SpX-34",
        "Soyuz 2.1a | Soyuz MS-29",
    ]


def test_filters_combine(launches: Engine) -> None:
    """provider:SpaceX with program:International Space Station is SpX-34 alone."""
    filters = lookups.resolve_launch_filters(
        launches, provider="SpaceX", location=None, program=str(ISS_PROGRAM)
    )
    assert [x.id for x in lookups.upcoming_launches(launches, filters, now=NOW, count=5)] == [
        SPX_34
    ]


def test_an_unknown_provider_is_a_usage_error_with_a_suggestion(launches: Engine) -> None:
    """provider:SpaceY is refused, naming the closest provider the store knows."""
    with pytest.raises(UsageError) as refused:
        lookups.resolve_launch_filters(launches, provider="SpaceY", location=None, program=None)
    assert "SpaceY" in str(refused.value)
    assert "SpaceX" in str(refused.value)


@pytest.mark.parametrize("count", [0, 26])
def test_count_outside_one_to_25_is_refused(launches: Engine, count: int) -> None:
    """count must be 1-25, as Discord's option range says."""
    with pytest.raises(UsageError, match="between 1 and 25"):
        lookups.upcoming_launches(launches, lookups.LaunchFilters(), now=NOW, count=count)


def test_an_empty_store_has_no_upcoming_launches(engine: Engine) -> None:
    """A store that never synced launches answers with nothing, not an error."""
    assert lookups.upcoming_launches(engine, lookups.LaunchFilters(), now=NOW, count=1) == []
    assert lookups.live_launches(engine) == []


# --- search, show, live ---------------------------------------------------------------------


def test_search_finds_name_and_mission_words_upcoming_first(launches: Engine) -> None:
    """ "starlink" finds the Starlink launch; "Falcon 9" lists the upcoming ones before past."""
    assert [x.id for x in lookups.search_launches(launches, "starlink", now=NOW)] == [STARLINK]
    falcon = lookups.search_launches(launches, "Falcon 9", now=NOW)
    assert [x.id for x in falcon[:2]] == [STARLINK, SPX_34]
    assert len(falcon) == 4
    assert lookups.search_launches(launches, "Onward and", now=NOW)[0].name.startswith("Spectrum")


def test_search_treats_like_wildcards_as_text(launches: Engine) -> None:
    """% and _ are letters to find, not wildcards: they match nothing here."""
    assert lookups.search_launches(launches, "%", now=NOW) == []
    assert lookups.search_launches(launches, "_", now=NOW) == []


@pytest.mark.parametrize("query", ["", "   ", "x" * 101])
def test_empty_or_huge_searches_are_usage_errors(launches: Engine, query: str) -> None:
    """An empty search or a paste of more than 100 characters gets a clear answer."""
    with pytest.raises(UsageError):
        lookups.search_launches(launches, query, now=NOW)


@pytest.mark.parametrize(
    "value",
    [
        ARTEMIS,
        ARTEMIS.upper(),
        "sls-block-1-artemis-ii",
        "Artemis II",
        "  artemis ii ",
    ],
)
def test_show_finds_a_launch_by_uuid_slug_or_name(launches: Engine, value: str) -> None:
    """The autocomplete's UUID, a slug or part of the name all find Artemis II, in full."""
    launch = lookups.find_launch(launches, value, now=NOW)
    assert launch.id == ARTEMIS
    # Read back in full (mission text and rocket), not only the alert-relevant state.
    assert launch.mission is not None and launch.mission.description
    assert launch.rocket is not None and launch.rocket.name


@pytest.mark.parametrize("value", ["00000000-0000-4000-8000-000000000000", "Apollo 11", ""])
def test_show_of_an_unknown_launch_says_so(launches: Engine, value: str) -> None:
    """An unknown UUID or name is a usage error, never a crash or another launch."""
    with pytest.raises(UsageError):
        lookups.find_launch(launches, value, now=NOW)


def test_live_lists_the_launches_whose_webcast_is_live(launches: Engine) -> None:
    """The three recorded launches with webcast_live are the live ones."""
    assert sorted(names(lookups.live_launches(launches))) == [
        "Falcon 9 Block 5 | GPS III SV09",
        "Falcon 9 Block 5 | NROL-105",
        "New Shepard | NS-38",
    ]


# --- autocomplete ---------------------------------------------------------------------------


def test_provider_and_location_choices_match_what_was_typed(launches: Engine) -> None:
    """ "spa" offers SpaceX first (a name that starts so beats "Aerospace"); "cape" the Cape."""
    providers = lookups.provider_choices(launches, "spa")
    assert (providers[0].name, providers[0].value) == ("SpaceX (SpX)", str(SPACEX))
    assert all("spa" in c.name.lower() for c in providers)
    assert [c.value for c in lookups.provider_choices(launches, "rocket lab")] == [str(ROCKET_LAB)]
    assert {c.value for c in lookups.provider_choices(launches, "")} >= {
        str(SPACEX),
        str(ROCKET_LAB),
    }
    sites = lookups.location_choices(launches, "cape")
    assert [c.value for c in sites] == [str(CAPE_CANAVERAL)]


def test_launch_choices_offer_upcoming_launches_and_search_hits(launches: Engine) -> None:
    """Nothing typed: the next launches; "artemis": Artemis II, its UUID as the value."""
    first = lookups.launch_choices(launches, "", now=NOW)
    assert first[0].value == STARLINK
    assert first[0].name == "Falcon 9 Block 5 | Starlink Group 10-48 · 2026-03-14"
    assert [c.value for c in lookups.launch_choices(launches, "artemis", now=NOW)] == [ARTEMIS]
    assert all(len(c.name) <= 100 for c in first)


# --- subscriptions: feed, provider, location, exclude ---------------------------------------

GUILD = 1001
LEADS = (timedelta(hours=1),)


def subscribe(engine: Engine, channel_id: int = 500, **options: Any) -> Subscription:
    """Resolve the filter options as the cog does and add a subscription."""
    filters = service.resolve_filters(
        engine,
        type=options.pop("type", None),
        agency=None,
        program=options.pop("program", None),
        provider=options.pop("provider", None),
        location=options.pop("location", None),
    )
    return subscriptions.add_subscription(
        engine,
        guild_id=GUILD,
        channel_id=channel_id,
        filters=filters,
        kinds=None,
        reminders=None,
        mention_role_id=None,
        created_by=7,
        default_leads=LEADS,
        max_per_guild=50,
        now=NOW,
        **options,
    )


def test_provider_and_exclude_make_a_launches_only_subscription(launches: Engine) -> None:
    """provider:SpaceX exclude:Starlink follows launches only, by SpaceX, skipping Starlink."""
    sub = subscribe(launches, provider="SpaceX", exclude=" Starlink , starlink,, Rideshare ")
    assert (sub.feed, sub.provider_ids, sub.exclude) == (
        "launches",
        [SPACEX],
        ["Starlink", "Rideshare"],
    )
    assert subscriptions.describe_filters(sub, subscriptions.name_maps(launches)) == (
        "launches only; provider: SpX; exclude: Starlink, Rideshare"
    )


def test_location_limits_to_launches_and_type_to_events(launches: Engine) -> None:
    """location implies feed launches; an event type implies events; nothing implies all."""
    assert subscribe(launches, 1, location=str(KENNEDY)).feed == "launches"
    with session_scope(launches) as session:
        queries.save_event_types(session=session, types=[(2, "Docking")])
    assert subscribe(launches, 2, type="Docking").feed == "events"
    everything = subscribe(launches, 3)
    assert everything.feed == "all"
    assert subscriptions.describe_filters(everything) == "all events and launches"
    assert subscribe(launches, 4, feed="launches").feed == "launches"


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"feed": "events", "provider": "SpaceX"}, "provider/location only applies to launches"),
        ({"feed": "launches", "type": "Docking"}, "type only applies to events"),
        ({"type": "Docking", "provider": "SpaceX"}, "make one subscription for each"),
        ({"feed": "rockets"}, "feed must be events, launches or all"),
        ({"exclude": "x" * 51}, "at most 50 characters"),
        ({"exclude": ",".join(f"w{i}" for i in range(11))}, "at most 10 words"),
    ],
)
def test_contradicting_or_oversized_options_are_refused(
    launches: Engine, options: dict[str, Any], says: str
) -> None:
    """A filter of one feed with the other feed, both kinds of filter, or a huge exclude."""
    with session_scope(launches) as session:
        queries.save_event_types(session=session, types=[(2, "Docking")])
    with pytest.raises(UsageError, match=says):
        subscribe(launches, **options)
    assert subscriptions.guild_subscriptions(launches, GUILD) == []


def test_subscriptions_differing_only_in_provider_or_exclude_are_not_duplicates(
    launches: Engine,
) -> None:
    """SpaceX and Rocket Lab in one channel are two subscriptions; SpaceX twice is refused."""
    subscribe(launches, provider="SpaceX")
    subscribe(launches, provider="Rocket Lab")
    subscribe(launches, provider="SpaceX", exclude="Starlink")
    with pytest.raises(UsageError, match="already has this subscription"):
        subscribe(launches, provider="spacex")
    assert len(subscriptions.guild_subscriptions(launches, GUILD)) == 3


def test_edit_moves_an_events_subscription_to_launches_and_clears_exclude(
    launches: Engine,
) -> None:
    """An events-only subscription given provider: follows launches; exclude:none clears."""
    sub = subscribe(launches, feed="events", exclude="Starlink")
    assert sub.id is not None and sub.feed == "events"
    edited = subscriptions.edit_subscription(
        launches,
        guild_id=GUILD,
        subscription_id=sub.id,
        filters=service.resolve_filters(
            launches, type=None, agency=None, program=None, provider="SpX", location=None
        ),
    ).subscription
    assert (edited.feed, edited.provider_ids, edited.exclude) == (
        "launches",
        [SPACEX],
        ["Starlink"],
    )
    cleared = subscriptions.edit_subscription(
        launches, guild_id=GUILD, subscription_id=sub.id, exclude="none"
    ).subscription
    assert cleared.exclude == []
    with pytest.raises(UsageError, match="only applies to launches"):
        subscriptions.edit_subscription(
            launches, guild_id=GUILD, subscription_id=sub.id, feed="events"
        )


def test_test_alert_of_a_launches_subscription_is_its_next_launch(launches: Engine) -> None:
    """/alerts test for provider:Rocket Lab builds its sample from Rocket Lab's next launch."""
    sub = subscribe(launches, provider="Rocket Lab")
    alert = subscriptions.sample_alert(launches, sub, now=NOW)
    assert alert.feed == "launches"
    assert alert.event.name == "Electron | Kakushin Rising (JAXA Rideshare)"
