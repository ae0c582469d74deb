"""Large bodies against a real Redis: applied in chunks, all or 503, retried without doubles,
and other webhooks answered meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import orjson
import pytest
import redis as sync_redis
import redis.asyncio as aioredis

from receiver.models import Notification, fingerprint
from receiver.payload import decode_payload
from receiver.pipeline.intake import Intake
from receiver.pipeline.large_body import LARGE_BODY_BYTES, LargeBody, decode_body
from receiver.server.reload import routing_of
from receiver.store.keys import Keys
from receiver.store.scripts import Scripts
from tests.conftest import AppFactory, RedisServer, auth, fixture_body, make_settings
from tests.integration.api.test_webhook_intake import state_snapshot

K = Keys("ar")
# Workers are off in these tests: the URLs are never called, jobs stay countable.
CFG: dict[str, Any] = {
    "receivers": {
        "chat": {"type": "webhook", "url": "http://127.0.0.1:9/chat", "rate": "none"},
        "pager": {"type": "webhook", "url": "http://127.0.0.1:9/pager", "rate": "none"},
    },
    "route": {"receivers": ["chat", "pager"]},
}
DESTS = ("chat", "pager")


def many(n: int, tag: str) -> dict[str, Any]:
    """A body of `n` distinct firing criticals (a critical is never folded into a storm
    summary: one job per alert and destination), fingerprints as Alertmanager sends them."""
    body = fixture_body("critical-group-firing")
    template = body["alerts"][0]
    body["alerts"] = []
    for i in range(n):
        labels = template["labels"] | {"instance": f"{tag}-{i:05d}", "severity": "critical"}
        body["alerts"].append(template | {"labels": labels, "fingerprint": fingerprint(labels)})
    return body


async def jobs_per_alert(redis: aioredis.Redis) -> Counter[tuple[str, str]]:
    jobs = [Notification.from_json(f["job"]) for _id, f in await redis.xrange(K.outbox)]
    return Counter((j.alert.fingerprint, j.destination) for j in jobs)


def every_alert_once(body: dict[str, Any]) -> Counter[tuple[str, str]]:
    return Counter({(a["fingerprint"], d): 1 for a in body["alerts"] for d in DESTS})


async def test_a_large_body_is_applied_in_chunks_and_fully_recorded(
    redis: aioredis.Redis, redis_server: RedisServer
) -> None:
    client = aioredis.Redis.from_url(redis_server.url)
    settings = make_settings(redis_server.url, **CFG)
    intake = Intake(client, Scripts.register(client), K, routing_of(settings), time.time,
                    chunk_alerts=50)  # fmt: skip
    body = many(5_000, "chunked")
    try:
        result = await intake.ingest(decode_payload(orjson_bytes(body)), webhook="big")
    finally:
        await client.aclose()
    assert result.chunks == 100  # 50 alerts per script call
    assert result.summary() == {
        "accepted": 5_000, "new": 5_000, "changed": 0, "unchanged": 0, "notifications": 10_000,
        "digested": 0,
    }  # fmt: skip
    assert sum(n for (_dest, reason), n in result.decisions.items() if reason == "new") == 10_000
    assert await jobs_per_alert(redis) == every_alert_once(body)
    fps = [a["fingerprint"] for a in body["alerts"]]
    async with redis.pipeline(transaction=False) as pipe:
        for fp in fps:
            pipe.hget(K.alert(fp), "status")
        assert await pipe.execute() == ["firing"] * 5_000


async def test_the_answer_adds_up_over_the_chunks(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    """Through the webhook, with the service's own chunk size; then the same body again:
    every alert a duplicate, nothing queued twice."""
    client = await app_client(**CFG)
    body = many(1_500, "http")
    resp = await client.post("/webhook", json=body, headers=auth())
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"status": "ok", "accepted": 1_500, "new": 1_500, "changed": 0,
                                 "unchanged": 0, "notifications": 3_000, "digested": 0}  # fmt: skip
    again = await (await client.post("/webhook", json=body, headers=auth())).json()
    assert (again["unchanged"], again["notifications"]) == (1_500, 0)
    assert await jobs_per_alert(redis) == every_alert_once(body)


async def test_redis_failing_in_the_middle_answers_503_and_the_retry_doubles_nothing(
    app_client: AppFactory, redis: aioredis.Redis, redis_server: RedisServer
) -> None:
    """Redis is stopped once two chunks are committed (seen in the outbox, checked each time
    the intake reads the clock, i.e. before each chunk is planned): 503. Redis comes back
    with what it had; Alertmanager's retry of the same body answers 200, and each alert
    has exactly one job per destination."""
    chunk = 200  # the service's chunk size (receiver/pipeline/intake.py CHUNK_ALERTS)
    probe = sync_redis.Redis.from_url(redis_server.url, socket_timeout=2)
    stopped: list[int] = []

    def clock() -> float:
        if not stopped and redis_server.proc is not None:
            queued = probe.xlen(K.outbox) if probe.exists(K.outbox) else 0
            if queued >= 2 * chunk * len(DESTS):
                redis_server.stop()  # SIGTERM: Redis writes its append-only file and exits
                stopped.append(queued)
        return time.time()

    client = await app_client(clock=clock, **CFG)
    body = many(5 * chunk, "fault")
    try:
        resp = await client.post("/webhook", json=body, headers=auth())
        assert resp.status == 503, await resp.text()
        assert (await resp.json())["error"] == "unavailable"
        assert stopped == [2 * chunk * len(DESTS)]
    finally:
        probe.close()
        if redis_server.proc is None:
            redis_server.start()
        await redis.connection_pool.disconnect()  # its connections died with the server
    assert len(await jobs_per_alert(redis)) == 2 * chunk * len(DESTS)  # the first two chunks

    retry = await client.post("/webhook", json=body, headers=auth())
    assert retry.status == 200, await retry.text()
    summary = await retry.json()
    assert (summary["new"], summary["unchanged"]) == (3 * chunk, 2 * chunk)
    assert summary["notifications"] == 3 * chunk * len(DESTS)
    assert await jobs_per_alert(redis) == every_alert_once(body)


async def test_a_small_webhook_is_answered_while_a_large_body_is_applied(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    client = await app_client(**CFG)
    body = many(4_000, "slow")
    first = body["alerts"][0]["fingerprint"]
    large = asyncio.create_task(client.post("/webhook", json=body, headers=auth()))
    deadline = time.monotonic() + 60
    while not await redis.exists(K.alert(first)):  # the first chunk is committed
        assert not large.done() and time.monotonic() < deadline
        await asyncio.sleep(0.005)
    small = await client.post("/webhook", json=fixture_body("warning-firing"), headers=auth())
    assert small.status == 200
    assert not large.done()  # answered while the large body was still being applied
    resp = await large
    assert resp.status == 200 and (await resp.json())["new"] == 4_000
    assert await jobs_per_alert(redis) == every_alert_once(body) + Counter(
        {("67cd633fe23d9d69", d): 1 for d in DESTS}
    )


async def test_a_bad_alert_deep_in_a_large_body_is_named_and_nothing_is_stored(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    client = await app_client(**CFG)
    body = many(3_000, "bad")
    body["alerts"][2_345]["startsAt"] = "yesterday"
    assert len(orjson_bytes(body)) >= LARGE_BODY_BYTES  # decoded in slices
    # Something stored already, for a refused body to fail to change.
    stored = await client.post("/webhook", json=many(10, "stored"), headers=auth())
    assert stored.status == 200
    before = await state_snapshot(redis)
    resp = await client.post("/webhook", json=body, headers=auth())
    assert resp.status == 400
    err = await resp.json()
    assert err["error"] == "invalid_payload"
    assert [f["field"] for f in err["fields"]] == ["alerts.2345.startsAt"]
    assert await state_snapshot(redis) == before


@pytest.mark.parametrize("n", [1, 2_999, 3_001])
async def test_decoding_in_slices_reads_what_one_decode_reads(n: int) -> None:
    body = many(n, "same")
    body["alerts"][-1]["labels"]["severity"] = "warning"
    body["alerts"][-1]["fingerprint"] = fingerprint(body["alerts"][-1]["labels"])
    body["extra"] = {"unknown": [1, 2, 3]}  # other fields of the body go with every slice
    raw = orjson_bytes(body) + b" " * LARGE_BODY_BYTES  # large whatever n is
    decoded = await decode_body(raw, slice_alerts=1_000)
    assert isinstance(decoded, LargeBody)
    assert await decoded.whole() == decode_payload(raw)


def orjson_bytes(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)


async def test_an_alert_listed_twice_in_a_large_body_counts_where_it_occurs_last(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    """A large body is decoded again slice by slice as it is applied; an alert listed at the
    start and again at the end is recorded once, as listed last (as for a small body)."""
    client = await app_client(**CFG)
    body = many(2_000, "twice")
    again = body["alerts"][0] | {"annotations": {"summary": "the later copy"}}
    body["alerts"].append(again)
    assert len(orjson_bytes(body)) >= LARGE_BODY_BYTES  # the sliced path
    resp = await client.post("/webhook", json=body, headers=auth())
    got = await resp.json()
    assert (got["accepted"], got["new"], got["notifications"]) == (2_001, 2_000, 4_000), got
    rec = await (await client.get(f"/api/v1/alerts/{again['fingerprint']}")).json()
    assert rec["annotations"] == {"summary": "the later copy"}
    body["alerts"].pop()
    assert await jobs_per_alert(redis) == every_alert_once(body)
