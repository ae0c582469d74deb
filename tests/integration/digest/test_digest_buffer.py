"""What goes into a digest buffer at intake: routed alerts, and warning/info overflow."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from receiver.store.keys import Keys
from tests.conftest import AppFactory, auth

MAIL = {"type": "email", "host": "127.0.0.1", "from": "a@example.com", "to": ["b@example.com"]}
DIGEST = {"d": {"receiver": "mail", "to": ["team@example.com"], "every": "1d"}}


def body(*alerts: tuple[str, str]) -> dict[str, Any]:
    items = [{"status": "firing", "startsAt": "2026-11-28T09:00:00Z",
              "labels": {"alertname": name, "severity": sev}} for name, sev in alerts]  # fmt: skip
    return {"version": "4", "groupKey": "g", "status": "firing", "receiver": "r", "alerts": items}


async def test_over_the_rate_limit_warnings_go_to_the_routes_digest_criticals_wait(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    client = await app_client(
        receivers={"hook": {"type": "webhook", "url": "http://127.0.0.1:9/x", "rate": "1/h"},
                   "mail": MAIL},
        digests=DIGEST, route={"receivers": ["hook"], "digest": "d"},
    )  # fmt: skip
    resp = await client.post("/webhook", json=body(("A", "warning"), ("B", "warning"),
                                                   ("C", "info"), ("D", "critical")),
                             headers=auth())  # fmt: skip
    got = await resp.json()
    # hook: A goes now; B and C (warning/info) over the limit are left to the route's
    # digest, which lists every alert of the route once; D (critical) waits its turn.
    assert (got["notifications"], got["digested"]) == (2, 6), got
    buffered = await redis.hgetall(Keys().digest("d"))
    assert len(buffered) == 4 and all(v.startswith("1|") for v in buffered.values())
    assert await redis.zcard(Keys().delayed) == 1  # D, in order behind A


async def test_a_digest_alone_never_notifies_and_repeats_are_not_listed_twice(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    client = await app_client(receivers={"mail": MAIL}, digests=DIGEST,
                              route={"digest": "d"})  # fmt: skip
    for _ in range(3):  # Alertmanager re-sends, an HA copy: duplicates
        resp = await client.post("/webhook", json=body(("A", "warning")), headers=auth())
        assert resp.status == 200
    buffered = await redis.hgetall(Keys().digest("d"))
    assert list(buffered) == [next(iter(buffered))] and buffered[next(iter(buffered))][:2] == "1|"
    assert await redis.xlen(Keys().outbox) == 0
