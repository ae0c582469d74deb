"""POST /push/ack/{token}: forged, expired, replayed, other-person and other-episode
tokens are refused with a clear answer and change nothing."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from receiver.ack.push import sign
from tests.conftest import AppFactory, auth
from tests.integration.ack.test_ack_api import FP, STARTS, body
from tests.integration.people.common import SECRET, ntfy, people_config
from tests.integration.slo.test_slo_intake import NOW, Clock
from tests.servers.ntfy import FakeNtfy
from tests.servers.pagerduty import FakePagerDuty
from tests.servers.smtp import SMTPServer

__all__ = ["ntfy"]
BASE = "https://alerts.example.org"


async def state(redis: aioredis.Redis) -> tuple[Any, ...]:
    alert = await redis.hgetall(f"{{ar}}:alert:{FP}")
    return alert.get("ack"), await redis.lrange(f"{{ar}}:hist:{FP}", 0, -1)


async def test_bad_tokens_are_refused_and_change_nothing(
    app_client: AppFactory,
    redis: aioredis.Redis,
    ntfy: FakeNtfy,
    smtp: SMTPServer,
    pd: FakePagerDuty,
) -> None:
    clock = Clock(NOW)
    cfg = people_config(ntfy, smtp, pd, BASE, "30s")
    client = await app_client(clock=clock, **cfg)
    assert (await client.post("/webhook", json=body(), headers=auth())).status == 200
    before = await state(redis)
    exp = int(NOW) + 3600
    good = sign(FP, STARTS, "alice", exp, SECRET)
    head, payload, mac = good.split(".")
    cases = {
        "forged": (403, sign(FP, STARTS, "alice", exp, "another-secret-0123456789abcdef")),
        "tampered": (403, f"{head}.{sign(FP, STARTS, 'bob', exp, SECRET).split('.')[1]}.{mac}"),
        "expired": (410, sign(FP, STARTS, "alice", int(NOW) - 1, SECRET)),
        "malformed": (400, "p1.not-a-token"),
        "a link token": (400, "v1." + payload + "." + mac),
        "other episode": (409, sign(FP, "2026-11-22T07:00:00Z", "alice", exp, SECRET)),
        "unknown person": (403, sign(FP, STARTS, "mallory", exp, SECRET)),
    }
    for name, (status, token) in cases.items():
        resp = await client.post(f"/push/ack/{token}")
        answer = await resp.json()
        assert resp.status == status, (name, answer)
        assert answer.get("outcome") or answer.get("error"), name
        assert await state(redis) == before, name
    # The good one acks once; the same token again is a replay and changes nothing.
    resp = await client.post(f"/push/ack/{good}")
    assert resp.status == 200 and (await resp.json())["by"] == "alice"
    after = await state(redis)
    assert after != before
    resp = await client.post(f"/push/ack/{good}")
    answer = await resp.json()
    assert resp.status == 409 and answer["error"] == "replayed", answer
    assert await state(redis) == after
