"""What every notifier shares: the Notifier protocol, delivery results, config basics.

A notifier sends ONE notification and classifies what happened. It never retries, sleeps or
throttles (the pipeline owns retry/backoff and rate limits) and never lets an exception out
of `send()`: every failure becomes a `DeliveryResult`.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import ClassVar, Generic, Protocol, TypeVar

import aiohttp
from pydantic import ConfigDict, Field, SecretStr, field_validator

from receiver.config.loader import StrictModel, read_secret_file, secret_file_problems
from receiver.config.loader import exactly_one as exactly_one  # re-exported for the channels
from receiver.models import Notification
from receiver.notifiers.render import Renderer
from receiver.pipeline.throttle import Rate

# How much of a vendor's answer goes into a result's detail (logs, dead-letter entries).
DETAIL_LIMIT = 300

# Set by the worker in the state handed to send() when an earlier attempt of the same job
# may have reached the vendor (the job was reclaimed from a stopped worker, or is a retry
# whose earlier attempt ended without a clear answer). Its value says which ("reclaimed",
# "retry"). A notifier that can check what arrived (Slack) looks before posting again;
# it is never persisted.
UNCERTAIN = "_uncertain"


class Outcome(enum.StrEnum):
    """How one delivery attempt ended. Doubles as a metric label."""

    OK = "ok"
    NETWORK_ERROR = "network_error"
    TIMEOUT = "timeout"
    SERVER_ERROR = "server_error"
    RATE_LIMITED = "rate_limited"
    CLIENT_ERROR = "client_error"
    INVALID_CONFIG = "invalid_config"


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    retryable: bool
    detail: str = ""
    retry_after_s: float | None = None
    # Persisted per (alert fingerprint, destination) and handed back to the next send().
    state: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


class Notifier(Protocol):
    name: str

    async def send(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult: ...

    async def close(self) -> None: ...


def ok(detail: str = "", state: dict[str, str] | None = None) -> DeliveryResult:
    return DeliveryResult(Outcome.OK, retryable=False, detail=detail, state=state or {})


def invalid_config(detail: str) -> DeliveryResult:
    return DeliveryResult(Outcome.INVALID_CONFIG, retryable=False, detail=detail)


def client_error(detail: str) -> DeliveryResult:
    return DeliveryResult(Outcome.CLIENT_ERROR, retryable=False, detail=detail)


def snippet(text: str, limit: int = DETAIL_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def classify_http(status: int, headers: Mapping[str, str], body: str, what: str) -> DeliveryResult:
    """The plain HTTP rule shared by PagerDuty and generic webhooks.

    2xx ok; 429 rate limited (retryable, Retry-After honoured); 5xx retryable; anything else
    (4xx, and 1xx/3xx which mean a wrong URL) is permanent.
    """
    detail = f"{what}: HTTP {status} {snippet(body)}".rstrip()
    if 200 <= status < 300:
        return ok(detail)
    if status == 429:
        return DeliveryResult(
            Outcome.RATE_LIMITED,
            retryable=True,
            detail=detail,
            retry_after_s=parse_retry_after(headers.get("Retry-After")),
        )
    if status >= 500:
        return DeliveryResult(
            Outcome.SERVER_ERROR,
            retryable=True,
            detail=detail,
            retry_after_s=parse_retry_after(headers.get("Retry-After")),
        )
    return client_error(detail)


def classify_exception(exc: BaseException, what: str) -> DeliveryResult:
    """Network trouble and timeouts are retryable; anything else is a bug or bad input."""
    name = type(exc).__name__
    detail = f"{what}: {name}: {snippet(str(exc))}".rstrip(": ")
    if isinstance(exc, TimeoutError):
        return DeliveryResult(Outcome.TIMEOUT, retryable=True, detail=detail)
    if isinstance(exc, aiohttp.ClientError | OSError):
        return DeliveryResult(Outcome.NETWORK_ERROR, retryable=True, detail=detail)
    return client_error(f"{detail} (unexpected error)")


async def post(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout_s: float,
    what: str,
) -> DeliveryResult:
    """POST a body and classify the answer with `classify_http`. Never raises."""
    try:
        async with session.post(
            url, data=body, headers=dict(headers), timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as resp:
            text = await resp.text(errors="replace")
            return classify_http(resp.status, resp.headers, text, what)
    except Exception as exc:
        return classify_exception(exc, what)


class ChannelBase(StrictModel):
    """Fields every channel config accepts. `rate`/`burst` belong to the throttle step."""

    model_config = ConfigDict(frozen=True)  # and StrictModel's: unknown keys are errors

    # The vendor's documented limit, used when the receiver sets no `rate` (None: none).
    default_rate: ClassVar[Rate | None] = None
    # The channel's capabilities, asked instead of its `type` (a channel's config overrides
    # them; notifiers/registry.py lists the channels). It mails: a digest or an escalation
    # step to on-call people can send through it.
    mails: ClassVar[bool] = False

    rate: str | None = None
    burst: int | None = Field(None, ge=1)

    @field_validator("rate")
    @classmethod
    def _rate(cls, v: str | None) -> str | None:
        if v is not None and v != "none":
            Rate.parse(v)  # ValueError naming the problem
        return v

    @property
    def acts_on_ack(self) -> bool:
        """An ack changes what it sent (the vendor's incident, the message), so it hears of
        the acks of alerts it was told about."""
        return False

    @property
    def smtp_connections(self) -> int:
        """The most SMTP connections it holds open at once (counted in the fd reserve)."""
        return 0

    def limit(self) -> Rate | None:
        """This receiver's rate limit: its own `rate`/`burst`, else its channel's default."""
        if self.rate == "none":
            return None
        if self.rate:
            return Rate.parse(self.rate, self.burst)
        d = self.default_rate
        return Rate(d.interval_ms, self.burst or d.burst) if d else None

    def problems(self) -> list[tuple[str, str]]:
        """(field, message) for what would make sends fail for sure: unreadable secret
        files and the like. Run by check-config and serve, skipped by `--no-secrets`."""
        return secret_file_problems(
            {f: v for f, v in self if f.endswith("_file") and isinstance(v, Path)}
        )


C = TypeVar("C", bound=ChannelBase)


class NotifierBase(Generic[C]):
    """What every notifier's constructor takes, and a close() with nothing to release
    (the HTTP session belongs to the app)."""

    def __init__(
        self, name: str, cfg: C, session: aiohttp.ClientSession, renderer: Renderer
    ) -> None:
        self.name = name
        self.cfg = cfg
        self._session = session
        self._renderer = renderer

    async def close(self) -> None:
        return None


def load_secret(inline: SecretStr | None, path: Path | None) -> tuple[str, str]:
    """(secret, error): the inline value or the file's content; an error instead of raising,
    so one unreadable secret fails its own channel's sends, not the whole service."""
    if inline is not None:
        return inline.get_secret_value(), ""
    if path is None:
        return "", ""
    try:
        return read_secret_file(path), ""
    except ValueError as e:
        return "", str(e)
