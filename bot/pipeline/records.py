"""Records: an LL2 item as the plain values the store keeps, and back from its snapshot.

The snapshot (pydantic's JSON of the parsed item) is the item's one stored JSON form; the
other values are the columns and child rows queries and lookups use.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import PydanticSerializationError

from bot.core.alerts import Item
from bot.core.items import Event
from bot.core.launches import Launch
from storage import queries


def snapshot_json(item: Event | Launch) -> str:
    """Return the item's snapshot as JSON text (pydantic's encoder: the fast path)."""
    try:
        return item.model_dump_json()
    except PydanticSerializationError:
        # Text UTF-8 cannot carry (a lone surrogate): escaped, as json.dumps does, so the
        # store refuses the item by its text columns and it is set aside (issue 9.2).
        return json.dumps(item.model_dump(mode="json"))


def event_record(event: Event, raw: dict[str, Any] | None = None) -> queries.EventRecord:
    """Turn a parsed event into the plain values the store keeps.

    ``raw``, LL2's JSON as received, is not stored (one JSON form per item, the snapshot:
    migration 0009); it is accepted for callers that still pass it.
    """
    return queries.EventRecord(
        id=event.id,
        name=event.name,
        slug=event.slug,
        type_id=event.type.id if event.type else None,
        type_name=event.type.name if event.type else None,
        date=event.date,
        date_precision=event.date_precision.name if event.date_precision else None,
        webcast_live=event.webcast_live,
        last_updated=event.last_updated,
        snapshot_json=snapshot_json(event),
        agencies=[(a.id, a.name, a.abbrev) for a in event.agencies],
        programs=[(p.id, p.name) for p in event.programs],
        updates=[
            {
                "id": u.id,
                "comment": u.comment,
                "info_url": u.info_url,
                "created_by": u.created_by,
                "created_on": u.created_on,
            }
            for u in event.updates
        ],
        videos=[
            {
                "url": v.url,
                "priority": v.priority,
                "publisher": v.publisher,
                "title": v.title,
                "language_code": v.language_code,
                "start_time": v.start_time,
                "end_time": v.end_time,
                "live": v.live,
            }
            for v in event.vid_urls
        ],
    )


def event_from_snapshot(snapshot: dict[str, Any]) -> Event:
    """Rebuild an :class:`Event` from its stored snapshot."""
    return Event.model_validate(snapshot)


def launch_from_snapshot(snapshot: dict[str, Any]) -> Launch:
    """Rebuild a :class:`Launch` from its stored snapshot."""
    return Launch.model_validate(snapshot)


def launch_record(launch: Launch, raw: dict[str, Any] | None = None) -> queries.LaunchRecord:
    """Turn a parsed launch into the plain values the store keeps (``raw``: see event_record)."""
    status = launch.status
    provider = launch.launch_service_provider
    location = launch.pad.location if launch.pad else None
    return queries.LaunchRecord(
        id=launch.id,
        name=launch.name,
        slug=launch.slug,
        mission_name=launch.mission.name if launch.mission else None,
        status_id=status.id if status else None,
        status_name=status.name if status else None,
        status_abbrev=status.abbrev if status else None,
        net=launch.net,
        net_precision=launch.net_precision.name if launch.net_precision else None,
        window_start=launch.window_start,
        window_end=launch.window_end,
        provider=(provider.id, provider.name, provider.abbrev) if provider else None,
        location=(
            (location.id, location.name, location.country_code)
            if location is not None and location.id is not None
            else None
        ),
        webcast_live=launch.webcast_live,
        last_updated=launch.last_updated,
        snapshot_json=snapshot_json(launch),
        programs=[(p.id, p.name) for p in launch.programs],
        videos=[(v.url, v.priority, v.start_time, v.live) for v in launch.vid_urls],
    )


def item_from_snapshot(feed: str, snapshot: dict[str, Any]) -> Item:
    """Rebuild an item of ``feed`` from its stored snapshot."""
    if feed == Launch.feed:
        return launch_from_snapshot(snapshot)
    return event_from_snapshot(snapshot)


Record = queries.EventRecord | queries.LaunchRecord


def item_record(item: Item) -> Record:
    """Turn a parsed item of any feed into the plain values the store keeps."""
    if isinstance(item, Launch):
        return launch_record(item)
    return event_record(item)
