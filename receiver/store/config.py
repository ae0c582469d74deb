"""The `redis:` and `state:` config sections: where the state lives and how long it is kept
(owned by the store package)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from receiver.config.durations import Duration, within
from receiver.config.loader import StrictModel, exactly_one, read_secret_file
from receiver.store import keys as K


class DurabilityConfig(StrictModel):
    """What a success answer waits for besides the write itself (docs/operations.md,
    "Durability"). The defaults wait for nothing more: AOF fsync every second, no WAIT."""

    # WAIT for this many replicas after each state change a caller is told succeeded.
    replicas: int = Field(default=0, ge=0, le=16)
    # How long WAIT/WAITAOF may block before the answer is 503.
    timeout: Duration = 1.0
    # always: the AOF is fsynced before the answer (embedded: appendfsync always; another
    # server: WAITAOF 1, Redis >= 7.2).
    fsync: Literal["everysec", "always"] = "everysec"
    # The replicas' AOF fsynced too (WAITAOF instead of WAIT, Redis >= 7.2).
    replicas_fsync: bool = False

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: float) -> float:
        # WAIT 0 blocks forever: a stuck replica must become a 503, not a hung webhook.
        return within(v, "10ms", "60s", "timeout")

    @model_validator(mode="after")
    def _replicas_fsync(self) -> DurabilityConfig:
        if self.replicas_fsync and not self.replicas:
            raise ValueError("replicas_fsync needs replicas: 1 or more (the replicas to wait for)")
        return self

    @property
    def waits(self) -> bool:
        """Whether a state change waits for anything beyond the server's own fsync policy."""
        return bool(self.replicas) or self.fsync == "always"


class RedisConfig(StrictModel):
    """Where the state lives. No url, sentinels or cluster → the embedded redis-server."""

    url: str | None = None
    sentinels: list[str] = Field(default_factory=list)
    master_name: str | None = None
    cluster: bool = False
    username: str | None = None
    password: str | None = None
    password_file: str | None = None
    key_prefix: str = "ar"
    # redis-py's default is 5 s; an intake stuck on Redis must answer 503 well before
    # Alertmanager's own webhook timeout, so keep this short.
    socket_timeout: Duration = 2.0
    connect_timeout: Duration = 2.0
    max_connections: int = 64
    # Embedded mode: how long the supervisor keeps trying to bring a redis-server that
    # exited back before `serve` exits non-zero (for systemd/Kubernetes to restart it).
    embedded_restart_timeout: Duration = 60.0
    durability: DurabilityConfig = Field(default_factory=DurabilityConfig)

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str | None) -> str | None:
        if v and not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("url must start with redis://, rediss:// or unix://")
        return v

    @field_validator("key_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if not v or any(c in v for c in "{}: "):
            raise ValueError("key_prefix must be non-empty without braces, colons or spaces")
        return v

    @field_validator("embedded_restart_timeout")
    @classmethod
    def _restart_timeout(cls, v: float, info: ValidationInfo) -> float:
        # Runs only when the key is given. The fields above it are known by now.
        if info.data.get("url") or info.data.get("sentinels") or info.data.get("cluster"):
            raise ValueError(
                "embedded_restart_timeout applies only to the embedded redis-server "
                "(no url, sentinels or cluster): remove it"
            )
        # Below a second the backoff (0.2 s, doubling) leaves room for one attempt at most.
        return within(v, "1s", "1d", "embedded_restart_timeout")

    @model_validator(mode="after")
    def _mode(self) -> RedisConfig:
        exactly_one(self, "password", "password_file", required=False)
        if self.sentinels and not self.master_name:
            raise ValueError("sentinels need master_name")
        if self.sentinels and self.cluster:
            raise ValueError("choose sentinels or cluster, not both")
        if self.cluster and not self.url:
            raise ValueError("cluster: true needs url (any node of the cluster)")
        self._check_durability()
        return self

    def _check_durability(self) -> None:
        d = self.durability
        if self.cluster and d.waits:
            # WAIT counts what reached the replicas of the connection's own server, and
            # redis-py's cluster client does not let the script and WAIT share one.
            raise ValueError(
                "durability: replicas and fsync: always are not supported with cluster: true "
                "(use sentinels for acknowledged replication)"
            )
        if self.mode == "embedded" and d.replicas:
            raise ValueError(
                "durability.replicas: the embedded redis-server has no replicas; set "
                "redis.url or sentinels to a Redis that has them (or use fsync: always)"
            )
        if d.waits and d.timeout >= self.socket_timeout:
            raise ValueError(
                f"durability.timeout ({d.timeout:g}s) must be below socket_timeout "
                f"({self.socket_timeout:g}s): WAIT's answer must arrive before the socket gives up"
            )

    @property
    def mode(self) -> str:
        if self.sentinels:
            return "sentinel"
        if self.cluster:
            return "cluster"
        return "url" if self.url else "embedded"

    def secret_password(self) -> str | None:
        """The password, read from `password_file` if given there (only when connecting)."""
        return read_secret_file(self.password_file) if self.password_file else self.password


class StateConfig(StrictModel):
    """The `state:` section: how long resolved alerts and their history are kept."""

    resolved_retention: Duration = float(K.DEFAULT_RESOLVED_RETENTION_S)
    history_max: int = Field(K.DEFAULT_HISTORY_MAX, ge=1, le=1000)
