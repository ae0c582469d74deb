"""`redis.durability`: a success answer waits until the change is on replicas (and fsynced).

Redis acknowledges a write once it is in the master's memory (and, with the AOF, handed
to the kernel: fsynced within a second). A 2xx that must survive the loss of the master's
host, or a Sentinel failover before the write reached a replica, has to wait for more:

- `replicas: N` → `WAIT N timeout` after each state change a caller is told succeeded
  (the intake's batch script, acks, overrides, dead-letter replays and purges);
- `fsync: always` → the embedded server runs with `appendfsync always` (Redis fsyncs once
  per event-loop turn, before the replies of that turn: a whole batch shares it); another
  server is asked with `WAITAOF 1 …` (Redis >= 7.2);
- `replicas_fsync: true` → `WAITAOF` counts the replicas' AOF fsync instead of WAIT's
  acknowledgement (Redis >= 7.2).

WAIT and WAITAOF count what reached the replicas of the writes made *on their own
connection*, so the change, then a barrier write (`Keys.durability`), then the wait go to
Redis as one pipeline on one connection. The barrier makes the wait cover every write the
server applied before it, not only this connection's: a retry whose script finds its
alerts current (written by an attempt that was answered 503) writes little or nothing
itself, yet must not answer 2xx before that attempt's writes are on the replicas.

Fewer confirmations than asked within `timeout` raise `Unconfirmed` (a RedisError: every
caller answers it 503, which Alertmanager retries), counted by operation and shortfall
and shown by the `durability` component of /health.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import NoScriptError, RedisError

from receiver.store.config import RedisConfig
from receiver.store.keys import Keys

log = logging.getLogger("receiver.store.durability")

# WAITAOF appeared in Redis 7.2.
WAITAOF_SINCE = (7, 2)

# Counts one shortfall: (operation, shortfall) → a metric label pair.
Count = Callable[[str, str], None]


class Unconfirmed(RedisError):
    """Fewer replicas (or fsyncs) confirmed a change than `redis.durability` asks for.

    `shortfall` classifies it, and doubles as the metric label: `replicas` (WAIT or
    WAITAOF's replica count), `local_fsync` (WAITAOF's own AOF)."""

    def __init__(self, operation: str, shortfall: str, detail: str) -> None:
        super().__init__(f"{operation}: not confirmed: {detail}")
        self.operation, self.shortfall, self.detail = operation, shortfall, detail


class DurabilityRefused(RuntimeError):
    """The connected server cannot do what `redis.durability` asks (found at start-up)."""


@dataclass(frozen=True)
class Policy:
    """What a confirmed change sends after itself, from the config: `command` is the wait
    (None: nothing to wait for), `appendfsync` the embedded server's setting."""

    replicas: int
    local_fsync: bool  # WAITAOF numlocal 1
    replicas_fsync: bool
    timeout_ms: int
    appendfsync: str

    @classmethod
    def of(cls, cfg: RedisConfig) -> Policy:
        d = cfg.durability
        embedded = cfg.mode == "embedded"
        return cls(
            replicas=d.replicas,
            # The embedded server fsyncs by itself (appendfsync always): nothing to ask.
            local_fsync=d.fsync == "always" and not embedded,
            replicas_fsync=d.replicas_fsync,
            timeout_ms=max(1, round(d.timeout * 1000)),
            appendfsync=d.fsync if embedded else "everysec",
        )

    @property
    def uses_waitaof(self) -> bool:
        return self.local_fsync or self.replicas_fsync

    @property
    def command(self) -> tuple[str | int, ...] | None:
        if self.uses_waitaof:
            return ("WAITAOF", int(self.local_fsync), self.replicas, self.timeout_ms)
        if self.replicas:
            return ("WAIT", self.replicas, self.timeout_ms)
        return None

    def describe(self) -> str:
        """The wait in words, for logs and /health: "WAIT 1 1000ms"."""
        command = self.command
        return " ".join(map(str, command[:-1])) + f" {self.timeout_ms}ms" if command else "none"

    def shortfall(self, reply: Any) -> tuple[str, str] | None:
        """(classification, detail) when `reply` (WAIT's count, WAITAOF's pair) confirms
        less than asked; None when it is enough."""
        if self.uses_waitaof:
            local, replicas = (int(x) for x in reply)
            if self.local_fsync and local < 1:
                return "local_fsync", f"AOF not fsynced within {self.timeout_ms}ms"
        else:
            replicas = int(reply)
        if replicas < self.replicas:
            what = "fsynced by" if self.replicas_fsync else "acknowledged by"
            return "replicas", (f"{what} {replicas} of {self.replicas} replicas within "
                                f"{self.timeout_ms}ms")  # fmt: skip
        return None


_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text: str) -> tuple[int, int, int]:
    """ "7.0.15" → (7, 0, 15); ValueError for anything that does not start like one."""
    m = _VERSION.match(text.strip())
    if m is None:
        raise ValueError(f"not a Redis version: {text!r}")
    return int(m[1]), int(m[2]), int(m[3] or 0)


def refusal(policy: Policy, version: str, aof_enabled: bool) -> str | None:
    """Why a server of `version` (its AOF on or off) cannot do what `policy` asks, or None."""
    if not policy.uses_waitaof:
        return None  # WAIT exists since Redis 3.0
    wanted = "fsync: always" if policy.local_fsync else "replicas_fsync: true"
    try:
        too_old = parse_version(version)[:2] < WAITAOF_SINCE
    except ValueError:
        return f"{wanted} needs WAITAOF (Redis >= 7.2); the server reports version {version!r}"
    if too_old:
        return f"{wanted} needs WAITAOF (Redis >= 7.2); the server runs Redis {version}"
    if policy.local_fsync and not aof_enabled:
        return f"{wanted} needs the server's AOF (appendonly yes); it is off on Redis {version}"
    return None


async def check_server(redis: Any, policy: Policy, target: str) -> None:
    """At start-up: DurabilityRefused if the server cannot do what `policy` asks; a warning
    if it has fewer replicas than WAIT will ask for (every change would be 503), or if it
    does not answer (the wait command then fails at the first change: 503 and logged)."""
    if policy.command is None:
        return
    try:
        server = await redis.info("server")
        aof = await redis.info("persistence")
        replication = await redis.info("replication")
    except RedisError as e:
        log.warning("durability: server not checked at start-up", extra={
            "redis": target, "error": repr(e), "wait": policy.describe()})  # fmt: skip
        return
    version = str(server.get("redis_version", "?"))
    why = refusal(policy, version, bool(int(aof.get("aof_enabled", 0))))
    if why is not None:
        raise DurabilityRefused(f"redis.durability: {why} ({target})")
    connected = int(replication.get("connected_slaves", 0))
    extra = {"redis": target, "version": version, "wait": policy.describe(),
             "connected_replicas": connected}  # fmt: skip
    if connected < policy.replicas:
        log.warning("durability: fewer replicas connected than WAIT asks for; every change "
                    "answers 503 until they are", extra=extra)  # fmt: skip
    else:
        log.info("durability", extra=extra)


class DurabilityStatus:
    """The `durability` component of /health: `ok` until a change is not confirmed, then
    `unconfirmed` (with what fell short) until one is again."""

    def __init__(self) -> None:
        self.status = "ok"
        self.error: str | None = None

    def confirmed(self) -> None:
        self.status, self.error = "ok", None

    def unconfirmed(self, e: Unconfirmed) -> None:
        self.status, self.error = "unconfirmed", e.detail


class Confirmed:
    """`redis` whose scripts (and `confirmed_command()`s) return only once the policy
    confirmed them: the client to hand to whatever makes changes a caller is told
    succeeded. Everything else (reads, pipelines) is the client's own, unconfirmed."""

    def __init__(self, redis: Any, keys: Keys, policy: Policy, status: DurabilityStatus,
                 count: Count, operation: str = "intake") -> None:  # fmt: skip
        self.raw, self.keys, self.policy, self.status = redis, keys, policy, status
        self.count, self.operation = count, operation

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)

    def named(self, operation: str) -> Confirmed:
        """The same, counting its shortfalls as `operation`."""
        return Confirmed(self.raw, self.keys, self.policy, self.status, self.count, operation)

    def register_script(self, script: str) -> Any:
        registered = self.raw.register_script(script)
        return registered if self.policy.command is None else ConfirmedScript(registered, self)

    async def confirmed_command(self, *args: Any) -> Any:
        """One command, confirmed (as is, when the policy waits for nothing)."""
        if self.policy.command is None:
            return await self.raw.execute_command(*args)
        return await self.run(args)

    async def run(self, args: Sequence[Any]) -> Any:
        """`args`, the barrier and the wait in one pipeline (one connection, one round
        trip); the reply to `args`, or Unconfirmed. Errors of `args` are raised as they are
        (NoScriptError included, for the script's reload)."""
        command = self.policy.command
        assert command is not None
        pipe = self.raw.pipeline(transaction=False)
        pipe.execute_command(*args)
        pipe.execute_command("INCR", self.keys.durability)
        pipe.execute_command(*command)
        reply, _, waited = await pipe.execute(raise_on_error=False)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(waited, Exception):  # e.g. WAITAOF on a server that has none
            raise waited
        short = self.policy.shortfall(waited)
        if short is None:
            self.status.confirmed()
            return reply
        e = Unconfirmed(self.operation, *short)
        self.count(self.operation, e.shortfall)
        self.status.unconfirmed(e)
        log.warning("change not confirmed; answering 503", extra={
            "operation": self.operation, "shortfall": e.shortfall, "detail": e.detail})  # fmt: skip
        raise e


class ConfirmedScript:
    """A registered script (redis-py's AsyncScript) run through `Confirmed.run`."""

    def __init__(self, script: Any, owner: Confirmed) -> None:
        self.script, self.owner = script, owner

    @property
    def sha(self) -> str:
        return str(self.script.sha)

    async def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = ()) -> Any:
        try:
            return await self.owner.run(("EVALSHA", self.script.sha, len(keys), *keys, *args))
        except NoScriptError:
            # A restarted or failed-over server: load it and run once more.
            self.script.sha = await self.owner.raw.script_load(self.script.script)
            return await self.owner.run(("EVALSHA", self.script.sha, len(keys), *keys, *args))


async def start(redis: Any, cfg: RedisConfig, keys: Keys, target: str, count: Count) -> Confirmed:
    """The Confirmed client for `redis` under `cfg.durability`, once the server was checked
    (DurabilityRefused if it cannot do what is asked)."""
    policy = Policy.of(cfg)
    await check_server(redis, policy, target)
    return Confirmed(redis, keys, policy, DurabilityStatus(), count)
