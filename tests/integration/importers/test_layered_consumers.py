"""A rotation with layers seen by every reader of the schedule on a running app: the API
(`oncall who`'s data), the .ics feed and an override on top agree with the layers'
combined timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from icalendar import Calendar

from receiver.oncall import layers
from receiver.oncall.config import Rotation
from tests.conftest import AppFactory

TOKEN = "reader-oncall-0123456789"
LAYERED: dict[str, Any] = {
    "timezone": "Europe/Berlin",
    "layers": [
        {"name": "weekly", "members": [{"name": "alice", "email": "alice@example.com"},
                                       {"name": "bob", "email": "bob@example.com"}],
         "shift": "1w", "handoff": "Mon 09:00", "start": "2026-11-02"},
        {"name": "office", "members": [{"name": "carol", "email": "carol@example.com"}],
         "shift": "1d", "handoff": "09:00", "start": "2026-11-02",
         "restrictions": [{"days": "mon-fri", "from": "09:00", "to": "17:00"}]},
    ],
}  # fmt: skip


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_api_feed_and_overrides_follow_the_layers(app_client: AppFactory,
                                                        redis: aioredis.Redis) -> None:  # fmt: skip
    client = await app_client(
        api_tokens=[{"name": "ops", "token": TOKEN, "scopes": ["read", "oncall"]}],
        anonymous_read=False, oncall={"rotations": {"team": LAYERED}},
    )  # fmt: skip
    headers = {"Authorization": f"Bearer {TOKEN}"}
    rot = Rotation.model_validate(LAYERED)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for h in range(0, 24 * 8, 5):  # a week and a day, every 5 hours
        t = now + timedelta(hours=h)
        resp = await client.get(f"/api/v1/oncall?at={stamp(t)}", headers=headers)
        assert resp.status == 200, await resp.text()
        got = (await resp.json())["rotations"][0]["on_call"]["member"]["name"]
        assert got == layers.who_is_on_call(rot, t).name, t  # type: ignore[union-attr]

    feed = await client.get("/api/v1/oncall/team.ics?weeks=2", headers=headers)
    assert feed.status == 200
    events: list[Any] = list(Calendar.from_ical(await feed.read()).walk("VEVENT"))
    turns = layers.timeline(rot, events[0]["DTSTART"].dt, events[-1]["DTEND"].dt)
    assert [(e["DTSTART"].dt, str(e["SUMMARY"])) for e in events] == [
        (x.start, f"On call (team): {x.member.name}") for x in turns if x.member]  # fmt: skip
    names = {str(e["SUMMARY"]).split(": ")[1] for e in events}
    assert "carol" in names and names & {"alice", "bob"}  # both layers show in two weeks

    start = now + timedelta(days=2)
    resp = await client.post(
        "/api/v1/oncall/team/overrides",
        headers=headers,
        json={"who": "erin", "email": "erin@example.com", "from": stamp(start), "for": "3h"},
    )
    assert resp.status in (200, 201), await resp.text()
    resp = await client.get(f"/api/v1/oncall?at={stamp(start + timedelta(hours=1))}",
                            headers=headers)  # fmt: skip
    assert (await resp.json())["rotations"][0]["on_call"]["member"]["email"] == "erin@example.com"
    resp = await client.get(f"/api/v1/oncall?at={stamp(start + timedelta(hours=3))}",
                            headers=headers)  # fmt: skip
    after = start + timedelta(hours=3)
    expected = layers.who_is_on_call(rot, after)
    assert (await resp.json())["rotations"][0]["on_call"]["member"]["name"] == (
        expected.name if expected else None
    )
