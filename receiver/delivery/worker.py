"""Outbox workers: a Redis stream consumer group shared by every replica.

A job is acknowledged (XACK + XDEL) only in the same atomic step that records its outcome
(store/lua/settle.lua): delivered, rescheduled on the delayed set, parked while its
destination is paused, or dead-lettered. That step is idempotent, so when Redis does not
answer it is retried for up to `RECORD_RETRY_S` before the job is left to be reclaimed.
Claims are short leases renewed while a job is in flight (delivery/lease.py): a dead
worker's jobs are taken over by another replica within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import orjson
from redis.exceptions import RedisError, ResponseError

from receiver.delivery.backpressure import NO_CIRCUIT, Backpressure, park_score
from receiver.delivery.batch import RecordReader, Settler, settle_request
from receiver.delivery.lease import Lease
from receiver.delivery.policy import Next, RetryPolicy
from receiver.metrics import Metrics
from receiver.models import Notification, NotifyRecord, Status, Verdict
from receiver.notifiers.base import UNCERTAIN, DeliveryResult, Notifier, Outcome
from receiver.periodic import Periodic
from receiver.pipeline.routing import record_field
from receiver.store import scripts
from receiver.store.keys import DEFAULT_RESOLVED_RETENTION_S, OUTBOX_GROUP, Keys

log = logging.getLogger("receiver.worker")
T = TypeVar("T")
# XREADGROUP BLOCK must stay below the client's socket timeout (2 s by default).
_BLOCK_MS = 1000
# How long a worker keeps trying to record an outcome (or read a job's records) while
# Redis does not answer, before leaving the job to be reclaimed (a restart or failover
# takes a second or two; a send must not be repeated because its record waited).
RECORD_RETRY_S = 30.0


class Worker(Periodic):
    """Reads jobs for this consumer and runs up to `concurrency` sends at once."""

    name = "worker"
    log = log
    interval_s = 0.0  # step() blocks on the stream read itself
    retry_s = 1.0

    def __init__(
        self,
        redis: Any,
        keys: Keys,
        notifiers: Mapping[str, Notifier],
        metrics: Metrics,
        policy: RetryPolicy,
        consumer: str,
        concurrency: int,
        visibility_timeout_s: float,
        clock: Callable[[], float] = time.time,
        retention_s: int = DEFAULT_RESOLVED_RETENTION_S,
        target: str = "",
        backpressure: Backpressure | None = None,
        record_retry_s: float = RECORD_RETRY_S,
    ) -> None:
        self.retention_s = retention_s
        self.target = target  # where Redis is, named in its warnings
        self.redis, self.keys, self.notifiers, self.metrics = redis, keys, notifiers, metrics
        self.policy, self.consumer, self.clock = policy, consumer, clock
        self.lease = Lease(redis, keys, consumer, visibility_timeout_s)
        self.backpressure = backpressure
        self.record_retry_s = record_retry_s
        self.concurrency = concurrency
        self.rng = random.Random()
        # The jobs in flight share their Redis round trips (delivery/batch.py).
        self.reader = RecordReader(scripts.register(redis, "records.lua"), keys)
        self.settler = Settler(scripts.register(redis, "settle.lua"))
        self._tasks: set[asyncio.Task[None]] = set()
        self._inflight: set[str] = set()  # outbox entry ids being processed here
        self._group_ready = False

    def sending(self) -> set[asyncio.Task[None]]:
        """The jobs being processed now (a reload closes old notifiers after them)."""
        return set(self._tasks)

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.keys.outbox, OUTBOX_GROUP, id="0", mkstream=True)
        except ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: claim and process jobs (Periodic: survives Redis outages,
        reports on /health); then wait for the jobs in flight."""
        keeper = asyncio.create_task(self._keep_leases(stop))
        self._group_ready = False
        await super().run(stop)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)

    async def step(self) -> None:
        """Read what this worker has room for (blocking up to a second) and start it."""
        try:
            if not self._group_ready:
                # Once, and again after any Redis error (a Redis that lost its data
                # answers NOGROUP): not a round trip per read.
                await self.ensure_group()
                self._group_ready = True
            free = self.concurrency - len(self._tasks)
            if free <= 0:
                await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
                # Jobs settled in one batch finish together: let them all go, so the
                # next read fetches a batch, not the single job that woke us.
                await asyncio.sleep(0)
                return
            resp = await self.redis.xreadgroup(
                OUTBOX_GROUP, self.consumer, {self.keys.outbox: ">"}, count=free,
                block=_BLOCK_MS,
            )  # fmt: skip
        except (RedisError, OSError):
            self._group_ready = False
            raise
        self.status, self.error = "ok", None  # Redis answered
        for _stream, entries in resp or []:
            for entry_id, fields in entries:
                self._spawn(entry_id, fields, reclaimed=False)

    async def _keep_leases(self, stop: asyncio.Event) -> None:
        """Renew the claims on jobs in flight here; reclaim jobs whose holder stopped."""
        tick = min(self.lease.renew_every_s, self.lease.reclaim_every_s)
        last_reclaim = 0.0
        while not stop.is_set():
            try:
                if self._inflight:
                    await self.lease.renew(list(self._inflight))
                if time.monotonic() - last_reclaim >= self.lease.reclaim_every_s:
                    last_reclaim = time.monotonic()
                    free = self.concurrency - len(self._tasks)
                    for entry_id, fields in await self.lease.reclaim(max(1, free)):
                        # A send of ours slower than the lease is still running: not a copy.
                        if entry_id not in self._inflight:
                            log.info("worker: reclaimed job", extra={"entry": entry_id})
                            self._spawn(entry_id, fields, reclaimed=True)
            except (RedisError, OSError):
                pass  # the main loop reports Redis trouble; renew again next tick
            except Exception:
                log.exception("worker: lease upkeep failed, continuing")
            await _pause(stop, tick)

    def _spawn(self, entry_id: str, fields: dict[str, str], reclaimed: bool) -> None:
        self._inflight.add(entry_id)
        task = asyncio.create_task(self._process(entry_id, fields.get("job", ""), reclaimed))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _t: self._inflight.discard(entry_id))

    async def _process(self, entry_id: str, raw: str, reclaimed: bool) -> None:
        try:
            n = Notification.from_json(raw)
        except ValueError as e:
            await self._record(entry_id, None, Verdict.DEAD, job=raw,
                               error=(f"undecodable job: {e}", "invalid_job"))  # fmt: skip
            return
        m, fp = self.metrics, n.alert.fingerprint
        # A job to recipients of its own (a person a step mailed) has a record of its own.
        field = record_field(n.destination, n.recipients)
        records = await self._retrying("read records", lambda: self.reader.read(fp, field))
        if records is None:
            return  # unacknowledged: reclaimed after the lease
        record, state = records
        if superseded(n, record):
            if await self._record(entry_id, n, Verdict.ACK) is not None:
                m.child(m.superseded, n.destination).inc()
                log.info("delivery superseded by a newer decision", extra=_ctx(n, None, 0, 0))
            return
        probe = False
        bp = self.backpressure
        if bp is not None and bp.must_gate(n.destination):
            gate = await self._retrying("gate", lambda: bp.gate(n.destination, n, raw, entry_id))
            if gate in (None, "parked", "gone"):
                if gate == "parked":
                    m.child(m.parked, n.destination).inc()
                return
            probe = gate == "probe"
        if reclaimed or n.attempt > 0:
            # An earlier attempt may have reached the vendor: notifiers that can check first.
            state = {**state, UNCERTAIN: "reclaimed" if reclaimed else "retry"}
        notifier = self.notifiers.get(n.destination)
        if notifier is None:
            result = DeliveryResult(Outcome.INVALID_CONFIG, False, f"no receiver {n.destination!r}")
        else:
            result = await self._send(notifier, n, state)
        await self._conclude(entry_id, n, raw, result, probe)

    async def _conclude(
        self, entry_id: str, n: Notification, raw: str, result: DeliveryResult, probe: bool
    ) -> None:
        """Decide what follows the send, record it, and count it."""
        m, attempt = self.metrics, n.attempt + 1
        age_s = self.clock() - n.enqueued_at_ms / 1000
        step, delay = self.policy.decide(result, attempt, age_s, self.rng)
        m.child(m.deliveries, n.destination, result.outcome.value).inc()
        if step is Next.DONE:
            done = await self._record(entry_id, n, Verdict.DONE, state=result.state, probe=probe)
            if done is None:
                return
            m.child(m.delivery_latency, n.destination).observe(max(0.0, age_s))
            m.child(m.attempts, n.destination, "delivered").observe(attempt)
            if refused := result.state.get("refused"):
                # Delivered to the others: not a failure, but someone was not told.
                m.child(m.recipients_refused, n.destination).inc(len(refused.split(",")))
                log.warning("delivery partly refused", extra=_ctx(n, result, attempt, 0))
        elif step is Next.RETRY:
            retry = n.model_copy(update={"attempt": attempt}).to_json()
            verdict = Verdict.RETRY
            if self.backpressure is not None:
                rate_limited = result.outcome is Outcome.RATE_LIMITED
                verdict = Verdict.THROTTLE if rate_limited else Verdict.FAIL
            due_ms = int((self.clock() + delay) * 1000)
            done = await self._record(entry_id, n, verdict, job=retry, due_ms=due_ms,
                                      probe=probe, retry_after_s=result.retry_after_s)  # fmt: skip
            if done == "parked":
                m.child(m.parked, n.destination).inc()
                assert self.backpressure is not None
                self.backpressure.note_parked(n.destination)
                log.warning("delivery failed, destination paused",
                            extra=_ctx(n, result, attempt, 0))  # fmt: skip
            elif done is not None:
                m.child(m.retries_scheduled, n.destination).inc()
                log.warning("delivery failed, retrying", extra=_ctx(n, result, attempt, delay))
        else:
            verdict = Verdict.DEAD if result.retryable else Verdict.REJECT
            error = (result.detail, result.outcome.value)
            if await self._record(entry_id, n, verdict, job=raw, error=error) is None:
                return
            m.child(m.dead_lettered, n.destination, result.outcome.value).inc()
            m.child(m.attempts, n.destination, "dead").observe(attempt)
            log.error("delivery dead-lettered", extra=_ctx(n, result, attempt, 0))

    async def _send(
        self, notifier: Notifier, n: Notification, state: dict[str, str]
    ) -> DeliveryResult:
        started = time.perf_counter()
        result = await notifier.send(n, state)
        m = self.metrics
        m.child(m.delivery_duration, n.destination).observe(time.perf_counter() - started)
        return result

    async def _record(
        self,
        entry_id: str,
        n: Notification | None,
        verdict: Verdict,
        *,
        state: dict[str, str] | None = None,
        job: str = "",
        due_ms: int = 0,
        error: tuple[str, str] = ("", ""),
        probe: bool = False,
        retry_after_s: float | None = None,
    ) -> str | None:
        """Record the outcome and acknowledge the job in one step (settle.lua), retried
        while Redis does not answer. What settle did ('done', 'retry', 'parked', 'gone', …),
        or None when it could not be recorded (the job is then reclaimed later)."""
        fp = n.alert.fingerprint if n is not None else "-"
        dest = n.destination if n is not None else "-"
        state_json, ttl = "", 0
        state = {k: v for k, v in (state or {}).items() if k != UNCERTAIN}
        if state and n is not None:
            state_json = orjson.dumps(state).decode()
            # A resolved alert's state expires with its record (the key may be new here).
            ttl = self.retention_s if n.alert.status is Status.RESOLVED else 0
        bp = self.backpressure
        circuit = bp.settle_args(retry_after_s, probe) if bp else [*NO_CIRCUIT]
        request = settle_request(
            self.keys, entry_id, int(self.clock() * 1000), verdict, dest, fp,
            state_json=state_json, ttl=ttl, job=job, due_ms=due_ms,
            score=park_score(n) if n is not None else 0, error=error, circuit=circuit,
            # Read back by the job's record field (RecordReader): kept under it too.
            state_field=record_field(n.destination, n.recipients) if n is not None else "",
        )  # fmt: skip

        async def settle() -> str:
            return await self.settler.settle(request)

        return await self._retrying("record outcome", settle)

    async def _retrying(self, what: str, call: Callable[[], Awaitable[T]]) -> T | None:
        """`call()` retried with backoff while Redis does not answer, for up to
        `record_retry_s`; None after that (logged)."""
        deadline = time.monotonic() + self.record_retry_s
        delay = 0.05
        while True:
            try:
                return await call()
            except (RedisError, OSError) as e:
                if time.monotonic() + delay > deadline:
                    log.warning(f"worker: could not {what}, left to be reclaimed",
                                extra={"error": repr(e), "redis": self.target})  # fmt: skip
                    return None
                self.metrics.record_retries.inc()
                if delay == 0.05:
                    log.info(f"worker: could not {what}, retrying",
                             extra={"error": repr(e), "redis": self.target})  # fmt: skip
                await asyncio.sleep(delay)
                delay = min(1.0, delay * 2)


async def _pause(stop: asyncio.Event, seconds: float = 1.0) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def superseded(n: Notification, record: str | None) -> bool:
    """Whether a newer decision for this alert and destination replaced this job.

    Only per-alert decisions are checked (storm summaries have no record of their own).
    """
    if not record or n.summary_total or not n.decided_at_ms:
        return False
    try:
        decided = NotifyRecord.from_json(record).notified_at_ms
    except ValueError:
        return False
    return decided > n.decided_at_ms


def _ctx(n: Notification, r: DeliveryResult | None, attempt: int, delay: float) -> dict[str, Any]:
    return {
        "destination": n.destination, "fingerprint": n.alert.fingerprint, "key": n.key,
        "reason": n.reason.value, "outcome": r.outcome.value if r else "superseded",
        "detail": r.detail if r else "", "attempt": attempt, "retry_in_s": round(delay, 2),
    }  # fmt: skip
