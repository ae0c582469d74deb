"""PagerDuty Events API v2: trigger / acknowledge / resolve, one small async client.

https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
https://developer.pagerduty.com/docs/events-api-v2/overview/#response-codes--retry-logic
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Literal

import aiohttp
import orjson
from pydantic import Field, SecretStr, model_validator

from receiver.models import ZERO_TIME, Notification, Reason, Severity
from receiver.notifiers.base import (
    ChannelBase,
    DeliveryResult,
    NotifierBase,
    classify_exception,
    client_error,
    exactly_one,
    invalid_config,
    load_secret,
    ok,
    post,
)
from receiver.notifiers.render import (
    Renderer,
    is_resolved,
    links,
    storm_info,
    summary_line,
    truncate,
)
from receiver.pipeline.throttle import Rate

ROUTING_KEY_LEN = 32  # an integration key is 32 characters
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
MAX_BODY = 512 * 1024  # "the total size of the event payload must be less than 512 KB"
PD_SEVERITIES = ("critical", "error", "warning", "info")
_SEVERITY_ALIASES = {"warn": "warning", "err": "error", "fatal": "critical", "page": "critical"}


class PagerDutyConfig(ChannelBase):
    type: Literal["pagerduty"] = "pagerduty"
    # PagerDuty Events API v2: 120 events per minute per routing key
    # (https://developer.pagerduty.com/docs/events-api-v2/overview/#rate-limits).
    default_rate: ClassVar[Rate | None] = Rate(500, 10)
    routing_key: SecretStr | None = None
    routing_key_file: Path | None = None
    base_url: str = "https://events.pagerduty.com"
    timeout: float = Field(10.0, gt=0, description="seconds per request")
    dedup_key_prefix: str = Field("alert-receiver/", max_length=128)
    client: str = "alert-receiver"
    client_url: str | None = None  # default: the alert's Alertmanager externalURL

    @model_validator(mode="after")
    def _one_routing_key(self) -> PagerDutyConfig:
        exactly_one(self, "routing_key", "routing_key_file")
        return self

    @property
    def acts_on_ack(self) -> bool:
        return True  # an ack acknowledges the incident at PagerDuty

    def problems(self) -> list[tuple[str, str]]:
        out = super().problems()
        if self.routing_key is not None:
            if len(self.routing_key.get_secret_value()) != ROUTING_KEY_LEN:
                out.append(("routing_key", f"routing_key must be {ROUTING_KEY_LEN} characters"))
        return out


def pd_severity(labels: Mapping[str, str]) -> str:
    raw = labels.get("severity", "").strip().lower()
    raw = _SEVERITY_ALIASES.get(raw, raw)
    return raw if raw in PD_SEVERITIES else str(Severity.of(dict(labels)))


def dedup_key(prefix: str, ident: str) -> str:
    """Stable across retries and replicas; hashed when it would pass PagerDuty's 255 chars."""
    key = prefix + ident
    if len(key) <= MAX_DEDUP_KEY:
        return key
    return prefix[: MAX_DEDUP_KEY - 64] + hashlib.sha256(ident.encode()).hexdigest()


class PagerDutyNotifier(NotifierBase[PagerDutyConfig]):
    def __init__(
        self,
        name: str,
        cfg: PagerDutyConfig,
        session: aiohttp.ClientSession,
        renderer: Renderer,
    ) -> None:
        super().__init__(name, cfg, session, renderer)
        self._url = cfg.base_url.rstrip("/") + "/v2/enqueue"
        self._routing_key, self._config_error = load_secret(cfg.routing_key, cfg.routing_key_file)

    def dedup_key_for(self, n: Notification) -> str:
        if n.summary_total > 0:
            return dedup_key(self.cfg.dedup_key_prefix, "storm/" + n.key)
        return dedup_key(self.cfg.dedup_key_prefix, n.alert.fingerprint)

    async def send(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        if n.reason in (Reason.ACKNOWLEDGED, Reason.UNACKNOWLEDGED):
            return await self.acknowledge(n, state)
        try:
            if n.summary_total > 0:
                # A storm summary is its own incident; its state must not be remembered for
                # the sample alert it carries (state is kept per alert fingerprint).
                result = await self._enqueue(self._trigger(n, self.dedup_key_for(n)))
                return replace(result, state={})
            key = state.get("dedup_key") or self.dedup_key_for(n)
            if is_resolved(n):
                return await self._enqueue({"event_action": "resolve", "dedup_key": key})
            return await self._enqueue(self._trigger(n, key))
        except Exception as e:
            return classify_exception(e, "pagerduty")

    async def acknowledge(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        """An ack job: an `acknowledge` event for the alert's incident (its dedup_key). The
        Events API has no un-acknowledge: an unack leaves the incident as PagerDuty has it
        (acknowledged until PagerDuty's own ack timeout re-triggers it)."""
        if n.reason is Reason.UNACKNOWLEDGED:
            return ok("pagerduty: the Events API has no un-acknowledge", dict(state))
        try:
            key = state.get("dedup_key") or dedup_key(
                self.cfg.dedup_key_prefix, n.alert.fingerprint
            )
            return await self._enqueue({"event_action": "acknowledge", "dedup_key": key})
        except Exception as e:
            return classify_exception(e, "pagerduty")

    def _trigger(self, n: Notification, key: str) -> dict[str, Any]:
        a = n.alert
        storm = storm_info(n)
        summary = self._renderer.render_line("pagerduty_summary.txt", n, MAX_SUMMARY)
        payload: dict[str, Any] = {
            "summary": summary or truncate(summary_line(a), MAX_SUMMARY),
            "source": a.labels.get("instance") or a.labels.get("job") or "alert-receiver",
            "severity": str(storm["severity"]) if storm else pd_severity(a.labels),
        }
        if a.startsAt and a.startsAt != ZERO_TIME and not storm:
            payload["timestamp"] = a.startsAt
        for field, label in (("component", "service"), ("group", "job")):
            if a.labels.get(label) and not storm:
                payload[field] = a.labels[label]
        payload["class"] = "storm" if storm else a.alertname or "alert"
        if storm:
            payload["custom_details"] = {
                "route": n.route,
                "total": n.summary_total,
                "top_alertnames": dict(storm["top"]),
                "alerts": [
                    {"fingerprint": s.fingerprint, "summary": summary_line(s), "labels": s.labels}
                    for s in storm["alerts"]
                ],
            }
        else:
            payload["custom_details"] = {**a.labels, **a.annotations}
        event: dict[str, Any] = {
            "event_action": "trigger",
            "dedup_key": key,
            "payload": payload,
            "client": self.cfg.client,
        }
        client_url = self.cfg.client_url or (a.externalURL if a.externalURL else "")
        if client_url.startswith(("http://", "https://")):
            event["client_url"] = client_url
        hrefs = [{"href": url, "text": title} for title, url in links(a)]
        if hrefs and not storm:
            event["links"] = hrefs
        return event

    async def _enqueue(self, event: dict[str, Any]) -> DeliveryResult:
        if self._config_error:
            return invalid_config(f"pagerduty: {self._config_error}")
        if len(self._routing_key) != ROUTING_KEY_LEN:
            return invalid_config(
                f"pagerduty: routing_key is {len(self._routing_key)} characters, "
                f"PagerDuty integration keys are {ROUTING_KEY_LEN}"
            )
        event = {"routing_key": self._routing_key, **event}
        body = _encode(event)
        if len(body) > MAX_BODY and "payload" in event:
            details = event["payload"]["custom_details"]
            event["payload"]["custom_details"] = {
                "truncated": "custom details exceeded PagerDuty's 512 KB event limit",
                **{k: truncate(str(v), 256) for k, v in list(details.items())[:100]},
            }
            body = _encode(event)
        if len(body) > MAX_BODY:
            return client_error(f"pagerduty: event is {len(body)} bytes, limit {MAX_BODY}")
        result = await post(
            self._session,
            self._url,
            body,
            {"Content-Type": "application/json", "Accept": "application/json"},
            self.cfg.timeout,
            f"pagerduty {event['event_action']}",
        )
        # 202 accepted; 400 invalid event: fix before retrying; 429 throttled: retry later;
        # 5xx: retry (per the response-codes doc linked at the top). `post` classifies so.
        if result.ok:
            return ok(result.detail, {"dedup_key": str(event["dedup_key"])})
        return result


def _encode(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event)
