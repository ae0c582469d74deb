"""The `workers:` config section: sends in flight, leases, retries (owned by delivery)."""

from __future__ import annotations

from pydantic import Field

from receiver.config.durations import Duration
from receiver.config.loader import StrictModel


class WorkerConfig(StrictModel):
    # Sends in flight per process. 64 from the delivery bench (bench/README.md): the jobs
    # share their Redis round trips, so more in flight means bigger batches; HTTP sends
    # share aiohttp's pool of 100 connections whatever this is.
    concurrency: int = Field(64, ge=1, le=256)
    # The claim lease on a job (receiver/delivery/lease.py): renewed while it is being sent,
    # so a slow send keeps it; a stopped replica's jobs are taken over after about this.
    visibility_timeout: Duration = Field(10.0, ge=0.5, le=3600)
    max_attempts: int = Field(20, ge=1)
    max_age: Duration = 24 * 3600.0
    backoff_base: Duration = 2.0
    backoff_max: Duration = 600.0
