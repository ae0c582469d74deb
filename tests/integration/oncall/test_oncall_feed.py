"""The calendar feed's cache, against a real Redis: what it serves is what an uncached feed
would be, a change to the overrides (on any replica) shows at once, rotations do not share
entries, and concurrent requests for one feed render it once."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from icalendar import Calendar

from receiver.api.state import SERVICES
from receiver.oncall import feed, view
from receiver.oncall.config import OncallConfig
from receiver.oncall.overrides import Request, build_override
from receiver.oncall.store import OverrideStore
from receiver.store.keys import Keys
from tests.conftest import AppFactory
from tests.integration.api.test_webhook_intake import state_snapshot
from tests.integration.oncall.test_oncall_api import (
    ONCALL,
    ONCALL_CONFIG,
    OVERRIDES,
    READER,
    bearer,
    client_for,
)

CONFIG = OncallConfig.model_validate(ONCALL_CONFIG)


def events(body: bytes) -> list[tuple[Any, ...]]:
    """The feed's events without DTSTAMP (the time it was rendered)."""
    return [(ev["UID"], ev["DTSTART"].dt, ev["DTEND"].dt, str(ev["SUMMARY"]),
             str(ev["DESCRIPTION"])) for ev in Calendar.from_ical(body).walk("VEVENT")]  # fmt: skip


def summaries(body: bytes) -> list[str]:
    return [e[3] for e in events(body)]


async def ics(client: Any, rotation: str = "primary", weeks: int = 8) -> bytes:
    resp = await client.get(f"/api/v1/oncall/{rotation}.ics?weeks={weeks}",
                            headers=bearer(READER))  # fmt: skip
    assert resp.status == 200, await resp.text()
    return bytes(await resp.read())


def renders(client: Any) -> int:
    return int(client.app[SERVICES].overrides.feeds.renders)


async def test_an_override_added_or_removed_changes_the_cached_feed_at_once(
    app_client: AppFactory,
) -> None:
    client = await client_for(app_client)
    before = await ics(client)
    assert await ics(client) == before and renders(client) == 1  # the second is a hit
    assert not any("override" in s for s in summaries(before))

    made = await client.post(OVERRIDES, json={"who": "erin", "from": "now", "for": "3d"},
                             headers=bearer(ONCALL))  # fmt: skip
    assert made.status == 201
    with_it = await ics(client)
    assert summaries(with_it)[0] == "On call (primary): erin (override)"
    oid = (await made.json())["id"]
    assert (await client.delete(f"{OVERRIDES}/{oid}", headers=bearer(ONCALL))).status == 200
    assert events(await ics(client)) == events(before)
    assert renders(client) == 3


async def test_a_change_made_on_another_replica_shows_at_once(app_client: AppFactory) -> None:
    one, two = await client_for(app_client), await client_for(app_client)
    before = await ics(one)
    made = await two.post(OVERRIDES, json={"who": "erin", "from": "now", "for": "1d"},
                          headers=bearer(ONCALL))  # fmt: skip
    assert made.status == 201
    assert summaries(await ics(one))[0] == "On call (primary): erin (override)"
    assert summaries(before)[0] != "On call (primary): erin (override)"


async def test_rotations_do_not_share_entries(app_client: AppFactory) -> None:
    client = await client_for(app_client)
    primary, secondary = await ics(client, "primary"), await ics(client, "secondary")
    assert all(s.startswith("On call (primary): ") for s in summaries(primary))
    assert all(s.startswith("On call (secondary): ") for s in summaries(secondary))
    assert "On call: primary" in Calendar.from_ical(primary)["X-WR-CALNAME"]
    assert "On call: secondary" in Calendar.from_ical(secondary)["X-WR-CALNAME"]
    assert renders(client) == 2
    # An override of primary leaves secondary's entry valid, and weeks is its own entry.
    await client.post(OVERRIDES, json={"who": "erin", "for": "1d"}, headers=bearer(ONCALL))
    assert await ics(client, "secondary") == secondary and renders(client) == 2
    assert len(events(await ics(client, "secondary", weeks=2))) < len(events(secondary))
    assert renders(client) == 3


async def test_concurrent_requests_render_once(app_client: AppFactory) -> None:
    client = await client_for(app_client)
    bodies = await asyncio.gather(*(ics(client, weeks=52) for _ in range(5)))
    assert len(set(bodies)) == 1 and renders(client) == 1


async def test_cached_feed_is_what_an_uncached_one_would_be(redis: aioredis.Redis) -> None:
    """Within one hour, from one entry: the shifts overlapping [now, now + weeks) for each
    `now`, as computed without a cache; the next hour renders a new entry."""
    hour = (int(time.time()) // 3600 + 1) * 3600  # overrides must lie ahead of real time
    clock = [hour + 60.0]
    store = OverrideStore(redis, Keys("ar"), lambda: clock[0])
    base = datetime.fromtimestamp(hour, UTC)
    req = Request(CONFIG, "secondary", "t", store.now())
    for start, length in ((10, "50m"), (30, "2h"), (24 * 60, "1d"), (3 * 24 * 60, "5h")):
        at = (base + timedelta(minutes=start)).isoformat()
        o = build_override({"who": "bob", "email": "bob@example.com", "from": at,
                            "for": length}, req)  # fmt: skip
        assert await store.add("secondary", o)
    overrides = await store.list("secondary")
    for minutes in (1, 15, 40, 59, 61):
        clock[0] = hour + minutes * 60.0
        now = store.now()
        got = await store.feeds.calendar(CONFIG, "secondary", 2)
        shifts = view.shifts_between(CONFIG, "secondary", [o for o in overrides if o.end > now],
                                     now, now + timedelta(weeks=2))  # fmt: skip
        assert events(got) == events(feed.calendar("secondary", shifts, now)), minutes
    assert store.feeds.renders == 2  # the first hour's entry, then the next hour's


async def test_version_changes_with_every_change_and_only_then(redis: aioredis.Redis) -> None:
    store = OverrideStore(redis, Keys("ar"), time.time)
    req = Request(CONFIG, "primary", "t", store.now())
    assert await store.version("primary") == ""
    first = build_override({"who": "bob", "for": "1h"}, req)
    assert await store.add("primary", first)
    v1 = await store.version("primary")
    # Lives with the overrides, and at least 2 h (so no feed can be filed under it again).
    version_key = Keys("ar").oncall_version(name="primary")
    assert 2 * 3600 * 1000 - 5000 < await redis.pttl(version_key) <= 2 * 3600 * 1000
    assert not await store.add("primary", build_override({"who": "bob", "for": "2h"}, req),
                               cap=1)  # fmt: skip
    assert await store.version("primary") == v1  # refused: unchanged
    before = await state_snapshot(redis)
    assert not await store.remove("primary", "0123456789abcdef")
    assert await state_snapshot(redis) == before  # nothing removed: nothing changed
    assert await store.remove("primary", first.id)
    assert await store.version("primary") not in ("", v1)
    assert await store.version("secondary") == ""
