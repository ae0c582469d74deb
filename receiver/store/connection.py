"""One way to get a Redis client for every mode: embedded, URL, Sentinel, Cluster."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from receiver.settings import RedisConfig

# What the service holds: a plain client, or a cluster client with the same command API.
RedisClient = aioredis.Redis | RedisCluster


def _common(cfg: RedisConfig) -> dict[str, Any]:
    return {
        "socket_timeout": cfg.socket_timeout,
        "socket_connect_timeout": cfg.connect_timeout,
        # redis-py retries 10 times by default; an intake must fail fast into a 503 that
        # Alertmanager retries, instead of hanging past its webhook timeout.
        "retry": Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=2),
        "username": cfg.username,
        "password": cfg.password,
        "decode_responses": True,
        "health_check_interval": 30,
    }


def connect(cfg: RedisConfig, url: str | None = None) -> Any:
    """A client for `cfg` (or for `url`, the embedded server's socket). Does no I/O yet."""
    common = _common(cfg)
    if cfg.sentinels:
        hosts = []
        for item in cfg.sentinels:
            host, _, port = item.rpartition(":")
            hosts.append((host, int(port or 26379)))
        sentinel = Sentinel(hosts, **common)  # type: ignore[no-untyped-call]
        return sentinel.master_for(cfg.master_name or "mymaster", **common)
    if cfg.cluster:
        common.pop("health_check_interval")
        return RedisCluster.from_url(cfg.url or "", **common)
    target = url or cfg.url
    assert target, "connect() needs a url in url mode"
    # A blocking pool: under a burst, requests wait for a free connection (bounded by the
    # socket timeout) instead of failing with MaxConnectionsError, which would be a 503.
    pool = aioredis.BlockingConnectionPool.from_url(
        target, max_connections=cfg.max_connections, timeout=cfg.socket_timeout, **common
    )
    return aioredis.Redis(connection_pool=pool)
