"""Batched script calls: right result to each caller, errors, bounds, NOSCRIPT recovery."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from receiver.store.batch import Batcher

# A batch script: each request {"key", "by"} is an INCRBY; returns every new value, in
# order, or an error for a request whose "by" is not a number.
INCR_ALL = """
local out = {}
for i, req in ipairs(cjson.decode(ARGV[1])) do
  local ok, res = pcall(redis.call, 'INCRBY', req.key, req.by)
  -- Redis 7 raises the error as a string, Redis 6 as a table {err = ...}.
  out[i] = ok and {value = res} or {error = type(res) == 'table' and res.err or res}
end
return cjson.encode(out)
"""


class Runner:
    """The `run` of a Batcher: one script call per batch; records each batch's size."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.script = redis.register_script(INCR_ALL)
        self.batches: list[int] = []

    async def __call__(self, requests: list[bytes]) -> list[Any]:
        self.batches.append(len(requests))
        raw = await self.script(keys=[], args=[b"[" + b",".join(requests) + b"]"])
        out = orjson.loads(raw)
        return [ResponseError(r["error"]) if "error" in r else r["value"] for r in out]


def req(key: str, by: Any) -> bytes:
    return orjson.dumps({"key": key, "by": by})


async def test_concurrent_calls_each_get_their_own_result(redis: aioredis.Redis) -> None:
    run = Runner(redis)
    b = Batcher(run, max_batch=16)
    results = await asyncio.gather(*[b.call(req(f"k{i % 7}", i)) for i in range(200)])
    # Each request ran once, in order within its key: the counters hold exactly the sums,
    # and each caller got the running total of its own key at its turn.
    for k in range(7):
        assert int(await redis.get(f"k{k}")) == sum(i for i in range(200) if i % 7 == k)
    assert results[:7] == list(range(7))
    # Batched, and within the bound.
    assert sum(run.batches) == 200 and len(run.batches) < 200 and max(run.batches) <= 16


async def test_a_batch_is_bounded_by_weight_but_a_heavy_request_still_goes(
    redis: aioredis.Redis,
) -> None:
    run = Runner(redis)
    b = Batcher(run, max_weight=100)
    await asyncio.gather(
        *[b.call(req("w", 1), weight=30) for _ in range(10)], b.call(req("w", 1), weight=500)
    )
    assert int(await redis.get("w")) == 11
    assert sorted(run.batches) == [1, 1, 3, 3, 3]  # 3 x 30 <= 100; the 500 alone


async def test_a_failing_request_fails_alone(redis: aioredis.Redis) -> None:
    b = Batcher(Runner(redis))
    results = await asyncio.gather(
        b.call(req("x", 1)), b.call(req("x", "not a number")), b.call(req("x", 1)),
        return_exceptions=True,
    )  # fmt: skip
    assert results[0] == 1 and results[2] == 2
    assert isinstance(results[1], ResponseError) and "not an integer" in str(results[1])


async def test_flushed_script_cache_is_reloaded(redis: aioredis.Redis) -> None:
    b = Batcher(Runner(redis))
    assert await b.call(req("n", 1)) == 1
    await redis.script_flush()  # as after a Redis restart or a failover to a fresh replica
    assert sorted(await asyncio.gather(*[b.call(req("n", 1)) for _ in range(5)])) == [2, 3, 4, 5, 6]


async def test_unreachable_redis_fails_every_caller() -> None:
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    dead = aioredis.Redis(port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    b = Batcher(Runner(dead))
    results = await asyncio.gather(*[b.call(req("k", 1)) for _ in range(3)],
                                   return_exceptions=True)  # fmt: skip
    assert all(isinstance(r, RedisConnectionError) for r in results), results
    with pytest.raises(RedisConnectionError):  # and the next batch too
        await b.call(req("k", 1))
    await dead.aclose()


async def test_a_wrong_number_of_results_fails_the_batch() -> None:
    async def short(requests: list[bytes]) -> list[Any]:
        return [1]

    b = Batcher(short)
    results = await asyncio.gather(b.call(b"a"), b.call(b"b"), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)


async def test_back_to_back_calls_never_strand_a_caller(redis: aioredis.Redis) -> None:
    # A call made right after the previous one completes must start a new drain loop even
    # if the old loop's task has not been reaped yet (this used to hang forever).
    b = Batcher(Runner(redis))

    async def sequential() -> list[int]:
        return [await b.call(req("seq", 1)) for _ in range(50)]

    assert await asyncio.wait_for(sequential(), 10) == list(range(1, 51))
