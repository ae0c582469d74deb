"""Auto-pipelined script calls: right reply to each caller, NOSCRIPT recovery, errors."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from receiver.store.batch import ScriptBatcher

INCR = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
BOOM = "return redis.error_reply('boom ' .. ARGV[1])"


async def test_concurrent_calls_each_get_their_own_reply(redis: aioredis.Redis) -> None:
    b = ScriptBatcher(redis, max_batch=16)
    script = redis.register_script(INCR)
    replies = await asyncio.gather(*[b.call(script, [f"k{i % 7}"], [i]) for i in range(200)])
    # Each call ran once, atomically: the counters hold exactly the sums.
    for k in range(7):
        assert int(await redis.get(f"k{k}")) == sum(i for i in range(200) if i % 7 == k)
    assert len(replies) == 200 and all(isinstance(r, int) for r in replies)


async def test_flushed_script_cache_is_reloaded(redis: aioredis.Redis) -> None:
    b = ScriptBatcher(redis)
    script = redis.register_script(INCR)
    assert await b.call(script, ["n"], [1]) == 1
    await redis.script_flush()
    assert await asyncio.gather(*[b.call(script, ["n"], [1]) for _ in range(5)]) == [2, 3, 4, 5, 6]


async def test_a_failing_call_fails_alone(redis: aioredis.Redis) -> None:
    b = ScriptBatcher(redis)
    ok, bad = redis.register_script(INCR), redis.register_script(BOOM)
    results = await asyncio.gather(
        b.call(ok, ["x"], [1]), b.call(bad, [], ["once"]), b.call(ok, ["x"], [1]),
        return_exceptions=True,
    )  # fmt: skip
    assert results[0] == 1 and results[2] == 2
    assert isinstance(results[1], ResponseError) and "boom once" in str(results[1])


async def test_unreachable_redis_fails_every_caller() -> None:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    dead = aioredis.Redis(port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    b = ScriptBatcher(dead)
    script = dead.register_script(INCR)
    results = await asyncio.gather(*[b.call(script, ["k"], [1]) for _ in range(3)],
                                   return_exceptions=True)  # fmt: skip
    assert all(isinstance(r, Exception) for r in results)
    await dead.aclose()
    with pytest.raises(Exception):  # noqa: B017 - any connection error is right here
        await b.call(script, ["k"], [1])


async def test_back_to_back_calls_never_strand_a_caller(redis: aioredis.Redis) -> None:
    # A call made right after the previous one completes must start a new drain loop even
    # if the old loop's task has not been reaped yet (this used to hang forever).
    b = ScriptBatcher(redis)
    script = redis.register_script(INCR)

    async def sequential() -> list[int]:
        return [await b.call(script, ["seq"], [1]) for _ in range(50)]

    assert await asyncio.wait_for(sequential(), 10) == list(range(1, 51))
