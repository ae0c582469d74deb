"""Generic webhook: POST one JSON document per notification, optionally HMAC-signed.

The signature is `X-Signature-256: sha256=<hex HMAC-SHA256 of the exact body bytes>` (the
scheme GitHub uses); `Idempotency-Key` carries the notification key so a receiver can drop a
redelivery. 2xx ok; 429 and 5xx retryable (Retry-After honoured); other 4xx final.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

import aiohttp
import orjson
from pydantic import Field, SecretStr, field_validator, model_validator

from receiver.models import Notification
from receiver.notifiers.base import (
    ChannelBase,
    DeliveryResult,
    NotifierBase,
    classify_exception,
    exactly_one,
    invalid_config,
    load_secret,
    post,
)
from receiver.notifiers.render import Renderer, summary_line
from receiver.pipeline.throttle import Rate

SIGNATURE_HEADER = "X-Signature-256"
BODY_VERSION = "1"
# Headers the notifier sets itself; configuring them would break the body or signature.
RESERVED_HEADERS = frozenset({"content-type", "content-length", SIGNATURE_HEADER.lower()})


class WebhookConfig(ChannelBase):
    type: Literal["webhook"] = "webhook"
    default_rate: ClassVar[Rate | None] = Rate(100, 20)
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    secret: SecretStr | None = None
    secret_file: Path | None = None
    timeout: float = Field(10.0, gt=0, description="seconds per request")

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return v

    @field_validator("headers")
    @classmethod
    def _no_reserved(cls, v: dict[str, str]) -> dict[str, str]:
        bad = sorted(k for k in v if k.lower() in RESERVED_HEADERS)
        if bad:
            raise ValueError(f"headers set by the notifier itself: {', '.join(bad)}")
        for k, val in v.items():
            if any(c in k + val for c in "\r\n"):
                raise ValueError(f"header {k!r} contains a line break")
        return v

    @model_validator(mode="after")
    def _one_secret(self) -> WebhookConfig:
        exactly_one(self, "secret", "secret_file", required=False)
        return self


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_body(n: Notification) -> dict[str, Any]:
    return {
        "version": BODY_VERSION,
        "reason": str(n.reason),
        "destination": n.destination,
        "key": n.key,
        "route": n.route,
        "summary": summary_line(n.alert),
        "alert": n.alert.model_dump(mode="json"),
        "summary_of": [a.model_dump(mode="json") for a in n.summary_of],
        "summary_total": n.summary_total,
        # Which escalation level this is and who did not answer before it (escalated only).
        "escalation": n.escalation.model_dump(mode="json") if n.escalation else None,
    }


class WebhookNotifier(NotifierBase[WebhookConfig]):
    def __init__(
        self,
        name: str,
        cfg: WebhookConfig,
        session: aiohttp.ClientSession,
        renderer: Renderer,
    ) -> None:
        super().__init__(name, cfg, session, renderer)
        self._secret, self._config_error = load_secret(cfg.secret, cfg.secret_file)

    async def send(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        if self._config_error:
            return invalid_config(f"webhook: {self._config_error}")
        try:
            body = orjson.dumps(webhook_body(n))
        except Exception as e:
            return classify_exception(e, "webhook")
        headers = {
            "User-Agent": "alert-receiver",
            "Idempotency-Key": n.key,
            **self.cfg.headers,
            "Content-Type": "application/json",
        }
        if self._secret:
            headers[SIGNATURE_HEADER] = signature(self._secret, body)
        return await post(self._session, self.cfg.url, body, headers, self.cfg.timeout, "webhook")
