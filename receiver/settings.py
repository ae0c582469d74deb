"""The service's configuration: a pydantic model loaded from YAML (see config/*.yml)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from receiver.config_loader import (
    ConfigError,
    ConfigIssue,
    StrictModel,
    line_of,
    load_yaml,
    read_secret,
)
from receiver.durations import Duration
from receiver.notifiers.registry import ChannelConfig
from receiver.pipeline.route import RootRouteConfig, RoutingTree
from receiver.store import keys as K
from receiver.store.config import RedisConfig

MiB = 1024 * 1024


class BasicUser(StrictModel):
    username: str
    password: str | None = None
    password_file: str | None = None

    @model_validator(mode="after")
    def _secret(self) -> BasicUser:
        self.password = read_secret(self.password, self.password_file, "password")
        if not self.password:
            raise ValueError("password or password_file is required")
        return self


class AuthConfig(StrictModel):
    """Webhook auth as Alertmanager's http_config sends it: bearer tokens and/or basic auth."""

    bearer_tokens: list[str] = Field(default_factory=list)
    bearer_token_files: list[str] = Field(default_factory=list)
    basic: list[BasicUser] = Field(default_factory=list)

    @model_validator(mode="after")
    def _load(self) -> AuthConfig:
        for f in self.bearer_token_files:
            token = read_secret(None, f, "bearer_token")
            if token:
                self.bearer_tokens.append(token)
        self.bearer_tokens = [t for t in self.bearer_tokens if t]
        if not self.bearer_tokens and not self.basic:
            raise ValueError(
                "no credentials: give bearer_tokens, bearer_token_files or basic "
                "(or `auth: none` to accept unauthenticated webhooks)"
            )
        return self


class WebhookConfig(StrictModel):
    # Alertmanager bodies are a few KiB per alert; 10 MiB is far above what max_alerts makes.
    max_body_bytes: int = Field(10 * MiB, gt=1024)


class StateConfig(StrictModel):
    resolved_retention: Duration = float(K.DEFAULT_RESOLVED_RETENTION_S)
    history_max: int = Field(K.DEFAULT_HISTORY_MAX, ge=1, le=1000)


class StormConfig(StrictModel):
    """More than `threshold` non-critical alerts on one route within `window` → a summary."""

    threshold: int = Field(50, ge=1)
    window: Duration = 300.0


class WorkerConfig(StrictModel):
    concurrency: int = Field(8, ge=1, le=256)
    visibility_timeout: Duration = 60.0
    max_attempts: int = Field(20, ge=1)
    max_age: Duration = 24 * 3600.0
    backoff_base: Duration = 2.0
    backoff_max: Duration = 600.0


class Settings(StrictModel):
    """The whole config file."""

    listen: str = "127.0.0.1:9095"
    data_dir: str = "./data"
    auth: AuthConfig | Literal["none"]
    # Guards /api/v1/dlq (replay, purge). Absent → those endpoints answer 403.
    admin_auth: AuthConfig | Literal["none"] | None = None
    webhook: WebhookConfig = Field(default_factory=WebhookConfig)
    redis: RedisConfig = Field(default_factory=RedisConfig)
    state: StateConfig = Field(default_factory=StateConfig)
    receivers: dict[str, Annotated[ChannelConfig, Field(discriminator="type")]] = Field(
        default_factory=dict
    )
    route: RootRouteConfig | None = None
    storm: StormConfig = Field(default_factory=StormConfig)
    workers: WorkerConfig = Field(default_factory=WorkerConfig)
    templates_dir: str | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError("listen must be HOST:PORT, e.g. 127.0.0.1:9095")
        return v

    @model_validator(mode="after")
    def _references(self) -> Settings:
        tree = self.routing_tree()
        unknown = sorted(r for r in tree.receivers() if r not in self.receivers)
        if unknown and self.route is not None:
            raise ValueError(
                f"route refers to undefined receivers: {', '.join(unknown)} "
                f"(defined: {', '.join(sorted(self.receivers)) or 'none'})"
            )
        return self

    def warnings(self) -> list[str]:
        """Valid but probably unintended: shown by check-config and logged by serve."""
        out = []
        if self.route is None:
            missing = sorted(
                r for r in RoutingTree.default().receivers() if r not in self.receivers
            )
            if missing:
                out.append(
                    "no route configured, so the built-in severity routes apply, but they name "
                    f"undefined receivers ({', '.join(missing)}): alerts routed to them are "
                    "recorded but notify no one. Define those receivers or set `route`."
                )
        return out

    def routing_tree(self) -> RoutingTree:
        return RoutingTree(self.route) if self.route is not None else RoutingTree.default()

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


def _message(err: dict[str, Any]) -> str:
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def load_settings(path: str | Path, overrides: dict[str, Any] | None = None) -> Settings:
    """Load and validate a config file; raises ConfigError listing every problem with its line."""
    p = Path(path)
    data, node = load_yaml(p)
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(str(p), 1, "", "the config must be a YAML mapping")])
    data.update(overrides or {})
    try:
        return Settings.model_validate(data)
    except ValidationError as e:
        issues = []
        for err in e.errors():
            # Drop the discriminator tag pydantic adds for tagged unions (`receivers.x.slack`).
            loc = [part for part in err["loc"] if not _is_union_tag(part)]
            path_str = ".".join(str(x) for x in loc)
            issues.append(ConfigIssue(str(p), line_of(node, loc), path_str, _message(dict(err))))
        raise ConfigError(issues) from None


def _is_union_tag(part: object) -> bool:
    return isinstance(part, str) and (part in _CHANNEL_TYPES or part.startswith("function-"))


_CHANNEL_TYPES = {"pagerduty", "slack", "email", "webhook", "log", "AuthConfig", "literal['none']"}
