"""The Launch model: UUID ids, both versions' shapes, leniency per nested part."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from bot.core.launches import Launch

LID = "02e56635-63a6-4abc-9f27-1e30f23bc7e1"


def _raw(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": LID,
        "name": "Falcon 9 Block 5 | Starlink Group 17-1",
        "last_updated": "2025-05-24T11:01:54Z",
        "status": {"id": 1, "name": "Go for Launch", "abbrev": "Go"},
        "net": "2025-05-27T16:14:00Z",
        "net_precision": {"id": 1, "name": "Minute", "abbrev": "MIN"},
    }
    base.update(fields)
    return base


def test_a_minimal_launch_reads_with_defaults() -> None:
    """id, name and last_updated are enough; the rest is None or empty."""
    launch = Launch.model_validate({"id": LID, "name": "X", "last_updated": "2025-01-01T00:00Z"})
    assert launch.item_id == LID and launch.feed == "launches"
    assert launch.status is None and launch.net is None and launch.vid_urls == ()
    assert launch.webcast_live is False and launch.location is None


@pytest.mark.parametrize("bad", [12, "12", "not-a-uuid", None])
def test_the_id_must_be_a_uuid(bad: Any) -> None:
    """An event's integer id, or any non-UUID, is not a launch."""
    with pytest.raises(ValidationError):
        Launch.model_validate(_raw(id=bad))


def test_a_uuid_id_is_normalised_to_lower_case() -> None:
    """LL2's UUIDs are lower case; one sent in upper case is the same launch."""
    assert Launch.model_validate(_raw(id=LID.upper())).id == LID


def test_2_2_0_and_2_3_0_names_read_into_the_same_fields() -> None:
    """vidURLs/infoURLs/image URL (2.2.0) and vid_urls/info_urls/image{} (2.3.0) agree."""
    stream = {"url": "https://youtu.be/x", "priority": 10, "language": {"code": "en"}}
    info = {"url": "https://example.org/info", "priority": 1}
    old = Launch.model_validate(_raw(vidURLs=[stream], infoURLs=[info], image="https://img/x.png"))
    new = Launch.model_validate(
        _raw(
            vid_urls=[{**stream, "live": True}],
            info_urls=[info],
            image={"image_url": "https://img/x.png", "id": 1},
            response_mode="detailed",
        )
    )
    assert old.image_url == new.image_url == "https://img/x.png"
    assert old.info_urls == new.info_urls == ("https://example.org/info",)
    assert [v.url for v in old.vid_urls] == [v.url for v in new.vid_urls]
    assert new.vid_urls[0].live is True and old.vid_urls[0].live is None
    assert old.vid_urls[0].language_code == "en"


def test_nested_parts_are_read() -> None:
    """Provider, rocket configuration, mission with orbit, pad with location, programs."""
    launch = Launch.model_validate(
        _raw(
            launch_service_provider={"id": 121, "name": "SpaceX", "abbrev": "SpX", "x": 1},
            rocket={"id": 8617, "configuration": {"id": 164, "name": "Falcon 9"}},
            mission={
                "id": 7209,
                "name": "Starlink Group 17-1",
                "description": "A batch of 24 satellites",
                "orbit": {"id": 8, "name": "Low Earth Orbit", "abbrev": "LEO"},
            },
            pad={"id": 16, "name": "SLC-4E", "location": {"id": 11, "name": "Vandenberg SFB"}},
            program=[{"id": 25, "name": "Starlink"}],
            probability=75,
            holdreason="",
            failreason="Second stage anomaly",
        )
    )
    assert launch.provider_name == "SpaceX" and launch.launch_service_provider is not None
    assert launch.launch_service_provider.abbrev == "SpX"
    assert launch.rocket is not None and launch.rocket.name == "Falcon 9"
    assert launch.mission is not None and launch.mission.orbit is not None
    assert launch.mission.orbit.abbrev == "LEO"
    assert launch.pad is not None and launch.pad.location is not None
    assert launch.pad.location.id == 11 and launch.location == "Vandenberg SFB"
    assert [p.id for p in launch.programs] == [25]
    assert launch.probability == 75
    assert launch.holdreason is None and launch.failreason == "Second stage anomaly"


def test_net_and_precision_read_like_an_events_date() -> None:
    """date/date_precision/precision_name follow net/net_precision (reminders share code)."""
    launch = Launch.model_validate(_raw())
    assert launch.date == launch.net == datetime(2025, 5, 27, 16, 14, tzinfo=UTC)
    assert launch.date_precision == launch.net_precision
    assert launch.precision_name == "minute" and launch.status_id == 1


@pytest.mark.parametrize("value", [-1, 101, "75", True, 7.5])
def test_a_probability_that_is_not_a_percentage_is_none(value: Any) -> None:
    """-1 (LL2's old "unknown"), text, booleans and fractions are "not given"."""
    assert Launch.model_validate(_raw(probability=value)).probability is None


def test_one_malformed_nested_part_is_dropped_and_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A stream without a URL, a bad update, a status without a name: dropped, launch kept."""
    raw = _raw(
        id="6f2868b8-1000-48e5-893b-700c1371b4fb",
        vidURLs=[{"priority": 1}, {"url": "https://youtu.be/ok"}],
        updates=[{"id": 1, "created_on": "garbage"}, {"id": 2, "comment": "fine"}],
        status={"id": 1},
        pad="not an object",
        mission={"description": "no name"},
    )
    with caplog.at_level(logging.WARNING, logger="bot.core.launches"):
        launch = Launch.model_validate(raw)
        Launch.model_validate(raw)  # a stored snapshot parsed again says nothing new
    assert [v.url for v in launch.vid_urls] == ["https://youtu.be/ok"]
    assert [u.id for u in launch.updates] == [2]
    assert launch.status is None and launch.mission is None
    messages = [r.getMessage() for r in caplog.records]
    assert any("dropping vid_urls[0]" in m for m in messages)
    assert any("dropping updates[0]" in m for m in messages)
    assert any("ignoring status" in m for m in messages)
    assert len(messages) == len(set(messages)) == 4  # pad as a string is list-mode, not bad


def test_list_mode_strings_read_as_names() -> None:
    """mode=list names the mission, pad and location as strings: they read as names."""
    launch = Launch.model_validate(
        _raw(mission="Starlink Group 17-39", pad="SLC-4E", location="Vandenberg SFB, CA, USA")
    )
    assert launch.mission is not None and launch.mission.name == "Starlink Group 17-39"
    assert launch.location == "Vandenberg SFB, CA, USA"


def test_videos_by_priority_puts_the_best_first() -> None:
    """Lowest priority first; a stream without one last."""
    launch = Launch.model_validate(
        _raw(
            vidURLs=[
                {"url": "https://a", "priority": None},
                {"url": "https://b", "priority": 20},
                {"url": "https://c", "priority": 1},
            ]
        )
    )
    assert [v.url for v in launch.videos_by_priority()] == ["https://c", "https://b", "https://a"]
