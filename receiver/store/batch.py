"""Batching: the intake requests of concurrent webhooks go to Redis as one script call.

Each caller hands in its own request and gets its own result back; `run` executes a whole
batch (one EVALSHA whose script applies the requests in order, each atomically) and
returns one result per request. Requests gather while earlier batches run: batching grows
with load and costs nothing when idle. Per request this saves the Redis client's command
overhead (Python) and the script start-up (Redis).

Batches are kept small (MAX_WEIGHT alerts) and more than one may be in flight (each on
its own pooled connection), so that the receiver prepares the next batches while Redis
runs the current one and answers come back in small groups, instead of the two taking
turns with all requests at once (measured: 10-25 % more 20-alert bodies per second). A
further batch goes out only when a full one is waiting; below that it would only split the
batch and cost more per request. Redis runs the batches one after the other, each script
atomically, but not necessarily in the order they were sent: callers must not rely on
the order of requests in different batches (the intake does not; see its conflicts).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from receiver.coalesce import Coalescer

# Bounds one batch: requests, and their total weight (alerts); a heavier request still
# goes alone. 100 alerts keep Redis busy for a few milliseconds per call.
MAX_BATCH = 256
MAX_WEIGHT = 100
MAX_IN_FLIGHT = 4

Run = Callable[[list[bytes]], Awaitable[list[Any]]]


class Batcher(Coalescer[bytes, Any]):
    """The intake's `Coalescer`: weighted batches, more than one in flight."""

    def __init__(
        self,
        run: Run,
        max_batch: int = MAX_BATCH,
        max_weight: int = MAX_WEIGHT,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        super().__init__(run, max_batch, max_weight, max_in_flight)
