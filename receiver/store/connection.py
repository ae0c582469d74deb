"""One way to get a Redis client for every mode: embedded, URL, Sentinel, Cluster."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import (
    MasterNotFoundError,
    Sentinel,
    SentinelConnectionPool,
    SentinelManagedConnection,
)
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, ResponseError, TimeoutError

from receiver.store.config import RedisConfig

log = logging.getLogger("receiver.store")

# What the service holds: a plain client, or a cluster client with the same command API.
RedisClient = aioredis.Redis | RedisCluster

# Sentinel mode: how often (at most) a connection checkout asks sentinel whether the
# master is still the one the pool's connections point at.
MASTER_CHECK_S = 0.5
# A write refused because this server is no (longer a) writable master: a replica after a
# switchover (READONLY), or a master cut off from its replicas with `min-replicas-to-write`
# (NOREPLICAS). Redis 6 wraps either inside a script error ("… @user_script: 1: -READONLY
# …"), which redis-py reports as a plain ResponseError.
_REFUSED_WRITE = re.compile(r"(?:^|-)(?:READONLY|NOREPLICAS) ")


def _common(cfg: RedisConfig) -> dict[str, Any]:
    return {
        "socket_timeout": cfg.socket_timeout,
        "socket_connect_timeout": cfg.connect_timeout,
        # redis-py retries 10 times by default; an intake must fail fast into a 503 that
        # Alertmanager retries, instead of hanging past its webhook timeout. It must be
        # the asyncio Retry: the sync one given to an asyncio client never retries (its
        # loop only creates the coroutine; the error comes when it is awaited, outside).
        "retry": Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=2),
        "username": cfg.username,
        "password": cfg.secret_password(),
        "decode_responses": True,
        "health_check_interval": 30,
    }


class _MasterConnection(SentinelManagedConnection):
    """A connection to the master sentinel names, dropped when that server refuses a write.

    redis-py already does this for a bare READONLY reply; a refusal inside a script (the
    intake is one) or NOREPLICAS would otherwise keep the connection on a demoted or
    isolated master, answering 503 until sentinel kills its clients. The ConnectionError
    makes the client retry the command, on a connection to the master sentinel names.
    """

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        # redis-py reconnects a dropped connection here to the address it last had; a
        # retry after a refused write must ask sentinel where the master is now.
        if not self.is_connected:
            await self.connect()  # type: ignore[no-untyped-call]
        await super().send_packed_command(command, check_health)

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)
        except ResponseError as e:
            if self.connection_pool.is_master and _REFUSED_WRITE.search(str(e)):
                await self.disconnect()
                raise ConnectionError(f"master refused a write, asking sentinel: {e}") from e
            raise


class _MasterPool(SentinelConnectionPool):
    """Sentinel's pool, plus: connections follow a switchover within MASTER_CHECK_S.

    redis-py asks sentinel only when it opens a connection, so after a planned switchover
    (SENTINEL FAILOVER) pooled connections keep writing to the old master until sentinel
    demotes it, seconds later; those writes are then wiped by its resync with the new
    master, although each was answered 200. Here a checkout re-asks sentinel when the
    last answer is older than MASTER_CHECK_S, and a connection to any other address is
    reconnected before use.

    The master is asked with SENTINEL GET-MASTER-ADDR-BY-NAME, which names the promoted
    replica as soon as sentinel has seen it promoted; redis-py's SENTINEL MASTERS keeps
    the old address until every other replica is reconfigured (+switch-master).
    """

    _checked_at = float("-inf")

    async def get_master_address(self) -> tuple[str, int]:
        manager, errors = self.sentinel_manager, []
        for i, sentinel in enumerate(manager.sentinels):
            try:
                addr = await sentinel.sentinel_get_master_addr_by_name(self.service_name)
            except (ConnectionError, TimeoutError) as e:
                errors.append(repr(e))
                continue
            if not addr:
                errors.append(f"{sentinel!r} does not know {self.service_name!r}")
                continue
            # The sentinel that answered is asked first next time.
            manager.sentinels[0], manager.sentinels[i] = sentinel, manager.sentinels[0]
            host = addr[0].decode() if isinstance(addr[0], bytes) else str(addr[0])
            address = (host, int(addr[1]))
            if self.master_address != address:
                self.master_address = address
                # Idle connections reconnect to the new master when next used.
                await self.disconnect(inuse_connections=False)
            return address
        raise MasterNotFoundError(f"no master found for {self.service_name!r}: {errors}")

    async def ensure_connection(self, connection: Any) -> None:
        now = time.monotonic()
        if now - self._checked_at >= MASTER_CHECK_S:
            self._checked_at = now  # before the await: concurrent checkouts skip the check
            try:
                await self.get_master_address()
            except (ConnectionError, TimeoutError) as e:
                # No sentinel answers: keep using what we have; connecting anew will fail.
                log.warning("sentinel: master check failed", extra={"error": repr(e)})
        address = self.master_address
        if address is not None and connection.is_connected:
            if (connection.host, connection.port) != address:
                await connection.disconnect()
        await super().ensure_connection(connection)


class _SentinelMaster(aioredis.Redis):
    """The master's client; closing it closes the connections to the sentinels too."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        pool = self.connection_pool
        if isinstance(pool, SentinelConnectionPool):
            await pool.sentinel_manager.aclose()


# A redis:// URL's userinfo runs to its last "@" (a raw "/" or "?" in a password must not
# leak the rest as a path or query); a unix:// URL's ends at the first "/": the socket path
# may hold an "@".
_USERINFO = {"redis": re.compile(r"^.*@"), "rediss": re.compile(r"^.*@"),
             "unix": re.compile(r"^[^/?#]*@")}  # fmt: skip
_SECRET_PARAMS = re.compile(r"(?i)^password$")


def redact_url(url: str) -> str:
    """`url` without its password: `redis://user:pw@h:6379/0` → `redis://user@h:6379/0`;
    a `password=` query parameter is dropped too."""
    scheme, sep, rest = url.partition("://")
    userinfo = _USERINFO.get(scheme.lower(), _USERINFO["redis"]).match(rest) if sep else None
    if userinfo:
        user = userinfo.group()[:-1].partition(":")[0]
        rest = (user + "@" if user else "") + rest[userinfo.end() :]
    base, q, query = rest.partition("?")
    if q:
        kept = [p for p in query.split("&") if not _SECRET_PARAMS.match(p.partition("=")[0])]
        base += "?" + "&".join(kept) if kept else ""
    return scheme + sep + base


def describe_target(cfg: RedisConfig, url: str | None = None) -> str:
    """Where the service's Redis is, for log lines; never a password. `url` as for connect()
    (the embedded server's socket)."""
    if cfg.sentinels:
        return f"sentinel {cfg.master_name or 'mymaster'} via {','.join(cfg.sentinels)}"
    if cfg.cluster:
        return f"cluster via {redact_url(cfg.url or '')}"
    if url and cfg.mode == "embedded":
        return f"{redact_url(url)} (embedded)"
    return redact_url(url or cfg.url or "") or "embedded"


def connect(cfg: RedisConfig, url: str | None = None) -> Any:
    """A client for `cfg` (or for `url`, the embedded server's socket). Does no I/O yet."""
    common = _common(cfg)
    if cfg.sentinels:
        hosts = []
        for item in cfg.sentinels:
            host, _, port = item.rpartition(":")
            hosts.append((host, int(port or 26379)))
        sentinel = Sentinel(hosts, **common)
        return sentinel.master_for(
            cfg.master_name or "mymaster",
            redis_class=_SentinelMaster,
            connection_pool_class=_MasterPool,
            connection_class=_MasterConnection,
            **common,
        )
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
