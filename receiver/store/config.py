"""The `redis:` config section: where the state lives (owned by the store package)."""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator, model_validator

from receiver.config_loader import StrictModel, one_of, read_secret_file
from receiver.durations import Duration


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
        if not 1.0 <= v <= 86400.0:
            raise ValueError("embedded_restart_timeout must be between 1s and 1d")
        return v

    @model_validator(mode="after")
    def _mode(self) -> RedisConfig:
        one_of(self.password, self.password_file, "password")
        if self.sentinels and not self.master_name:
            raise ValueError("sentinels need master_name")
        if self.sentinels and self.cluster:
            raise ValueError("choose sentinels or cluster, not both")
        if self.cluster and not self.url:
            raise ValueError("cluster: true needs url (any node of the cluster)")
        return self

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
