"""The service's configuration: one pydantic model composed of each package's section.

Loading and checking a file (line numbers, cross-references, secrets, templates) is in
server/check.py; this module only declares the shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field, field_validator

from receiver.ack.config import AckConfig
from receiver.ack.silence import DESTINATION as SILENCE_DESTINATION
from receiver.api.config import Auth, AuthConfig, WebhookIntakeConfig, readable
from receiver.api.tokens import ApiToken, token_problems
from receiver.config.loader import Issue, Loc, StrictModel
from receiver.config.placeholders import placeholder_issues
from receiver.delivery.config import WorkerConfig
from receiver.digest.config import DigestConfig, digest_issues
from receiver.escalation.config import EscalationPolicy, escalation_issues
from receiver.heartbeat.config import HeartbeatConfig, heartbeat_issues
from receiver.maintenance.config import MaintenanceConfig
from receiver.notifiers.registry import ChannelConfig
from receiver.notifiers.sms.checks import phone_issues
from receiver.notifiers.telegram.config import shared_bot_issues
from receiver.oncall.config import OncallConfig
from receiver.people.checks import people_issues
from receiver.people.config import NOT_BUILT, PeopleConfig, Via
from receiver.pipeline.config import StormConfig
from receiver.pipeline.route import RootRouteConfig, RouteConfig, RoutingTree
from receiver.server.connections import ServerConfig
from receiver.slo.config import SloConfig, slo_issues
from receiver.store.config import RedisConfig, StateConfig
from receiver.web.config import ConsoleConfig


class Settings(StrictModel):
    """The whole config file."""

    listen: str = "127.0.0.1:9095"
    data_dir: str = "./data"
    auth: Auth  # the webhook's credentials
    # The API's: named tokens with scopes (read, ack, admin). See receiver/api/tokens.py.
    api_tokens: list[ApiToken] = Field(default_factory=list)
    # `read` without a token (GET /api/v1/alerts…): only when the config says so.
    anonymous_read: bool = False
    # Credentials Prometheus must send for /metrics; absent → open (the convention).
    metrics_auth: Auth | None = None
    # Replaced by api_tokens; kept only to say so (reference_issues).
    admin_auth: Any = None
    webhook: WebhookIntakeConfig = Field(default_factory=WebhookIntakeConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    redis: RedisConfig = Field(default_factory=RedisConfig)
    state: StateConfig = Field(default_factory=StateConfig)
    receivers: dict[str, ChannelConfig] = Field(default_factory=dict)
    route: RootRouteConfig | None = None
    storm: StormConfig = Field(default_factory=StormConfig)
    workers: WorkerConfig = Field(default_factory=WorkerConfig)
    oncall: OncallConfig = Field(default_factory=OncallConfig)  # rotations (receiver/oncall)
    digests: dict[str, DigestConfig] = Field(default_factory=dict)  # receiver/digest
    ack: AckConfig = Field(default_factory=AckConfig)  # receiver/ack
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)  # receiver/web
    escalation_policies: dict[str, EscalationPolicy] = Field(default_factory=dict)
    slo: SloConfig = Field(default_factory=SloConfig)  # receiver/slo
    heartbeats: dict[str, HeartbeatConfig] = Field(default_factory=dict)  # receiver/heartbeat
    maintenance: MaintenanceConfig = Field(default_factory=MaintenanceConfig)  # maintenance/
    people: PeopleConfig = Field(default_factory=PeopleConfig)  # receiver/people
    templates_dir: str | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError(f"must be HOST:PORT, e.g. 127.0.0.1:9095 (got {v!r})")
        return v

    def reference_issues(self) -> list[Issue]:
        """Names a route uses that nothing defines, keys of features not built yet, and
        route names used twice."""
        out: list[Issue] = self._api_issues() + list(self.oncall.issues(set(self.receivers)))
        emails = {n for n, c in self.receivers.items() if c.mails}
        out += digest_issues(self.digests, set(self.receivers), emails,
                             set(self.oncall.rotations))  # fmt: skip
        used = {n.escalation for _, n in _walk_config(self.route, ("route",))
                if n.escalation} if self.route is not None else set()  # fmt: skip
        out += list(escalation_issues(self.escalation_policies, set(self.receivers), emails,
                                      self.oncall, used))  # fmt: skip
        out += list(slo_issues(self.slo, set(self.receivers)))
        out += list(heartbeat_issues(self.heartbeats, set(self.receivers)))
        out += self.maintenance.issues(set(self.digests),
                                       self.ack.alertmanager_silence is not None)  # fmt: skip
        out += list(people_issues(self.people, self.receivers, self.oncall,
                                  self.escalation_policies, self.digests))  # fmt: skip
        out += list(phone_issues(self.receivers, Via.SMS not in NOT_BUILT))
        out += list(shared_bot_issues(self.receivers))
        if self.ack.alertmanager_silence is not None and SILENCE_DESTINATION in self.receivers:
            msg = "the destination of ack.alertmanager_silence: name this receiver otherwise"
            out.append((("receivers", SILENCE_DESTINATION), f'"{SILENCE_DESTINATION}" is {msg}'))
        if self.route is None:
            return out
        seen: dict[str, Loc] = {}
        defined = ", ".join(sorted(self.receivers)) or "none"
        for loc, node in _walk_config(self.route, ("route",)):
            if node.name is not None:
                if node.name in seen:
                    out.append(((*loc, "name"), f'duplicate route name "{node.name}"'))
                seen.setdefault(node.name, loc)
            for i, r in enumerate(node.receivers):
                if r not in self.receivers:
                    out.append(((*loc, "receivers", i),
                                f'undefined receiver "{r}" (defined: {defined})'))  # fmt: skip
            if node.digest and node.digest not in self.digests:  # "" switches one off
                known = ", ".join(sorted(self.digests)) or "none"
                out.append(((*loc, "digest"),
                            f'undefined digest "{node.digest}" (defined: {known})'))  # fmt: skip
            if node.escalation and node.escalation not in self.escalation_policies:
                known = ", ".join(sorted(self.escalation_policies)) or "none"
                out.append(((*loc, "escalation"), f'undefined escalation policy '
                            f'"{node.escalation}" (defined: {known})'))  # fmt: skip
        return out

    def _api_issues(self) -> list[Issue]:
        out: list[Issue] = []
        if "admin_auth" in self.model_fields_set:
            out.append((("admin_auth",), "replaced by api_tokens: list the admin token there "
                        "with a name and `scopes: [admin]` (see README, HTTP API)"))  # fmt: skip
        names: set[str] = set()
        for i, t in enumerate(self.api_tokens):
            if t.name in names:
                out.append((("api_tokens", i, "name"), f'duplicate token name "{t.name}"'))
            names.add(t.name)
        return out

    def secret_issues(self) -> list[Issue]:
        """Secret files that cannot be read, secrets of the wrong shape, placeholders."""
        out: list[Issue] = []
        try:
            webhook = self.auth.tokens() if isinstance(self.auth, AuthConfig) else []
        except ValueError:  # an unreadable token file: reported under `auth` below
            webhook = []
        for i, msg in token_problems(self.api_tokens, webhook):
            out.append((("api_tokens", i), msg))
        for section in ("auth", "metrics_auth"):
            value = getattr(self, section)
            if isinstance(value, AuthConfig):
                out += [((section, *loc), msg) for loc, msg in value.secret_issues()]
        if self.redis.password_file:
            out += [(("redis", *loc), m) for loc, m in
                    readable(("password_file",), self.redis.password_file)]  # fmt: skip
        for name, cfg in self.receivers.items():
            out += [(("receivers", name, field), msg) for field, msg in cfg.problems()]
        for part in ("links", "slack", "alertmanager_silence"):
            ack = getattr(self.ack, part)
            if ack is not None:
                out += [(("ack", part, field), msg) for field, msg in ack.problems()]
        out += [(("console", field), msg) for field, msg in self.console.problems()]
        out += list(placeholder_issues(self))  # a kit's REPLACE-ME left in place
        return out

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


def _walk_config(node: RouteConfig, loc: Loc) -> Iterator[tuple[Loc, RouteConfig]]:
    yield loc, node
    for i, child in enumerate(node.routes):
        yield from _walk_config(child, (*loc, "routes", i))


# Sections that the running process cannot change without a restart: a reload reports
# them and keeps the running values.
RESTART_SECTIONS = ("listen", "data_dir", "redis", "webhook", "server", "workers")
