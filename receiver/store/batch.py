"""Auto-pipelining: script calls from concurrent requests share one Redis round trip.

Each call is still its own EVALSHA, so each stays atomic and independent; only the network
round trip and redis-py's per-command overhead are shared. While one pipeline is in flight
the next batch gathers, so batching grows with load and costs nothing when idle.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError

# Bounds one pipeline; more waits for the next round trip.
MAX_BATCH = 256
# Pipelines in flight at once (each on its own pooled connection).
MAX_IN_FLIGHT = 1


class ScriptBatcher:
    def __init__(self, redis: Any, max_batch: int = MAX_BATCH) -> None:
        self.redis, self.max_batch = redis, max_batch
        # Cluster pipelines split by slot; there the plain per-call path is used.
        self.enabled = not isinstance(redis, RedisCluster)
        self._pending: list[tuple[Any, list[Any], list[Any], asyncio.Future[Any]]] = []
        self._active = 0  # drain loops running; changed only without an await in between
        self._tasks: set[asyncio.Task[None]] = set()  # strong refs until they finish

    async def call(self, script: Any, keys: list[Any], args: list[Any]) -> Any:
        """Run `script` (a registered redis-py Script) with keys and args; returns its reply."""
        if not self.enabled:
            return await script(keys=keys, args=args)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((script, keys, args, fut))
        if self._active < MAX_IN_FLIGHT:
            self._active += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await fut

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(0)  # let requests that arrived in the same tick join
            await self._drain_pending()
        finally:
            # No await between the loop seeing an empty queue and this: a call() that
            # queues after it starts a new drain loop, so nothing is left waiting.
            self._active -= 1

    async def _drain_pending(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            try:
                replies = await self._execute(batch)
            except Exception as e:  # the connection failed: every call in it failed
                for *_, fut in batch:
                    if not fut.done():
                        fut.set_exception(e)
                continue
            for (*_, fut), reply in zip(batch, replies, strict=True):
                if fut.done():
                    continue  # the caller gave up; the script ran all the same
                if isinstance(reply, Exception):
                    fut.set_exception(reply)
                else:
                    fut.set_result(reply)

    async def _execute(self, batch: list[tuple[Any, list[Any], list[Any], Any]]) -> list[Any]:
        replies = await self._pipeline(batch)
        missing = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
        if missing:
            # Redis restarted or its script cache was flushed: load and run those again.
            for script in {id(batch[i][0]): batch[i][0] for i in missing}.values():
                await self.redis.script_load(script.script)
            again = await self._pipeline([batch[i] for i in missing])
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        return replies

    async def _pipeline(self, batch: list[tuple[Any, list[Any], list[Any], Any]]) -> list[Any]:
        pipe = self.redis.pipeline(transaction=False)
        for script, keys, args, _ in batch:
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        return list(await pipe.execute(raise_on_error=False))
