"""The round trips the jobs in flight share (receiver/delivery/batch.py), against a real
Redis: one settle.lua call records many jobs' outcomes, each atomic with its ack and
idempotent, a failing job fails alone; one pipeline reads many jobs' records."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from receiver.delivery.batch import RecordReader, Settler, settle_request
from receiver.models import Verdict
from receiver.store import scripts
from receiver.store.keys import OUTBOX_GROUP, Keys

K = Keys("ar")
NO_CIRCUIT = [0, "0", 5, 2000, 60000, 500]  # Backpressure.settle_args for a plain send


async def claim(redis: aioredis.Redis, count: int) -> list[str]:
    """`count` outbox entries, read by consumer `w` (pending under it)."""
    await redis.xgroup_create(K.outbox, OUTBOX_GROUP, id="0", mkstream=True)
    for i in range(count):
        await redis.xadd(K.outbox, {"job": f'{{"n": {i}}}'})
    resp = await redis.xreadgroup(OUTBOX_GROUP, "w", {K.outbox: ">"}, count=count)
    return [entry_id for entry_id, _ in resp[0][1]]


def request(entry_id: str, verdict: str, fp: str, **kw: Any) -> Any:
    args: dict[str, Any] = {"state_json": "", "ttl": 0, "job": "", "due_ms": 0, "score": 0,
                            "error": ("", ""), "circuit": NO_CIRCUIT, **kw}  # fmt: skip
    return settle_request(K, entry_id, 1_000, Verdict(verdict), "dest", fp, **args)


async def test_outcomes_of_jobs_finishing_together_go_in_one_call(
    redis: aioredis.Redis,
) -> None:
    ids = await claim(redis, 3)
    settler = Settler(scripts.register(redis, "settle.lua"))
    reqs = [
        request(ids[0], "done", "fp0", state_json='{"ts": "1.2"}'),
        request(ids[1], "retry", "fp1", job='{"retry": 1}', due_ms=5_000),
        request(ids[2], "dead", "fp2", job='{"dead": 1}', error=("boom", "server_error")),
    ]
    got = await asyncio.gather(*(settler.settle(r) for r in reqs))
    assert got == ["done", "retry", "dead"]
    assert settler.batcher.batches == 1
    assert await redis.xlen(K.outbox) == 0  # acknowledged and deleted, each of them
    assert (await redis.xpending(K.outbox, OUTBOX_GROUP))["pending"] == 0
    assert await redis.hget(K.delivery("fp0"), "dest") == '{"ts": "1.2"}'
    assert await redis.zrange(K.delayed, 0, -1, withscores=True) == [('{"retry": 1}', 5000.0)]
    dead = await redis.xrange(K.dead)
    assert [(f["job"], f["error"], f["outcome"]) for _, f in dead] == [
        ('{"dead": 1}', "boom", "server_error")
    ]
    # Recorded already (an answer lost, another replica): nothing doubles.
    again = await asyncio.gather(*(settler.settle(r) for r in reqs))
    assert again == ["gone", "gone", "gone"]
    assert await redis.zcard(K.delayed) == 1 and await redis.xlen(K.dead) == 1


async def test_a_failing_job_fails_alone(redis: aioredis.Redis) -> None:
    ids = await claim(redis, 3)
    await redis.set(K.delivery("bad"), "not a hash")  # HSET on it: WRONGTYPE
    settler = Settler(scripts.register(redis, "settle.lua"))
    reqs = [request(ids[0], "done", "a", state_json="{}"),
            request(ids[1], "done", "bad", state_json="{}"),
            request(ids[2], "done", "c", state_json="{}")]  # fmt: skip
    got = await asyncio.gather(*(settler.settle(r) for r in reqs), return_exceptions=True)
    assert got[0] == "done" and got[2] == "done"
    assert isinstance(got[1], ResponseError) and "WRONGTYPE" in str(got[1])
    pending = await redis.xpending_range(K.outbox, OUTBOX_GROUP, "-", "+", 10)
    assert [p["message_id"] for p in pending] == [ids[1]]  # left to be retried / reclaimed


async def test_a_batch_redis_does_not_answer_fails_each_job(redis: aioredis.Redis) -> None:
    ids = await claim(redis, 2)
    dead = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    settler = Settler(scripts.register(dead, "settle.lua"))
    got = await asyncio.gather(*(settler.settle(request(i, "done", "x")) for i in ids),
                               return_exceptions=True)  # fmt: skip
    assert all(isinstance(e, RedisError | OSError) for e in got), got
    assert (await redis.xpending(K.outbox, OUTBOX_GROUP))["pending"] == 2  # untouched
    await dead.aclose()


async def test_records_of_many_jobs_in_one_call(redis: aioredis.Redis) -> None:
    record = orjson.dumps({"status": "firing", "starts_at": "t", "n": 5}).decode()
    await redis.hset(K.notified("fp1"), "pd", record)
    await redis.hset(K.delivery("fp1"), "pd", '{"ts": "9"}')
    await redis.hset(K.delivery("fp2"), "pd", "{corrupt")
    reader = RecordReader(scripts.register(redis, "records.lua"), K)
    got = await asyncio.gather(reader.read("fp1", "pd"), reader.read("fp1", "chat"),
                               reader.read("fp2", "pd"), reader.read("none", "pd"))  # fmt: skip
    assert got == [(record, {"ts": "9"}), (None, {}), (None, {}), (None, {})]
    assert reader.batcher.batches == 1
