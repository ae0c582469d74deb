"""The intake script's bookkeeping: record versions, expiry and the listing index."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis

from receiver.models import Notification
from receiver.store.keys import Keys
from tests.conftest import AppFactory, auth, fixture_body

K = Keys("ar")
FP = "67cd633fe23d9d69"  # the alert of warning-firing.json
CFG: dict[str, Any] = {
    # Workers are off: the URL is never called, jobs stay countable in the outbox.
    "receivers": {"chat": {"type": "webhook", "url": "http://127.0.0.1:9/", "rate": "none"}},
    "route": {"receivers": ["chat"]},
}


async def jobs(redis: aioredis.Redis) -> list[tuple[str, str]]:
    out = []
    for _id, f in await redis.xrange(K.outbox):
        n = Notification.from_json(f["job"])
        out.append((n.alert.fingerprint, n.reason.value))
    return out


def resolved(body: dict[str, Any]) -> dict[str, Any]:
    body["status"] = body["alerts"][0]["status"] = "resolved"
    body["alerts"][0]["endsAt"] = "2026-11-22T06:00:00Z"
    return body


async def test_a_state_record_without_its_version_is_still_checked(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    """The records' version lives on the state record (`nv`) and, as before, in the records'
    hash (`_v`). A state record written before `nv` existed must not read as "never
    notified": a receiver that does not know the alert (a restart, another replica) would
    page again."""
    first = await app_client(**CFG)
    body = fixture_body("warning-firing")
    assert (await first.post("/webhook", json=body, headers=auth())).status == 200
    assert await jobs(redis) == [(FP, "new")]
    assert await redis.hget(K.alert(FP), "nv") == await redis.hget(K.notified(FP), "_v") == "1"

    await redis.hdel(K.alert(FP), "nv")  # as written by an earlier version
    fresh = await app_client(**CFG)  # knows nothing of the alert
    resp = await fresh.post("/webhook", json=body, headers=auth())
    assert resp.status == 200 and (await resp.json())["notifications"] == 0
    assert await jobs(redis) == [(FP, "new")]  # no second page

    resp = await fresh.post("/webhook", json=resolved(body), headers=auth())
    assert (await resp.json())["notifications"] == 1
    assert await jobs(redis) == [(FP, "new"), (FP, "resolved")]
    assert await redis.hget(K.alert(FP), "nv") == await redis.hget(K.notified(FP), "_v") == "2"


async def test_an_alert_back_after_its_record_expired_stays_listed(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    client = await app_client(state={"resolved_retention": "1s"})
    body = resolved(fixture_body("warning-firing"))
    assert (await client.post("/webhook", json=body, headers=auth())).status == 200
    assert await redis.zscore(K.expiry, FP) is not None
    await asyncio.sleep(1.2)  # the record expires; its expiry entry is still there
    assert not await redis.exists(K.alert(FP))
    assert await redis.zscore(K.expiry, FP) is not None

    again = fixture_body("warning-firing")  # a new episode of the same alert
    again["alerts"][0]["startsAt"] = "2026-11-22T07:00:00Z"
    resp = await client.post("/webhook", json=again, headers=auth())
    assert (await resp.json())["new"] == 1
    # The same step pruned the stale expiry entry, and kept the alert in the listing.
    assert await redis.zscore(K.expiry, FP) is None
    listed = await (await client.get("/api/v1/alerts")).json()
    assert [a["fingerprint"] for a in listed["alerts"]] == [FP]
    assert listed["alerts"][0]["status"] == "firing"
    assert await redis.pttl(K.alert(FP)) == -1  # firing: no expiry
