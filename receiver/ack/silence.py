"""Acknowledged alerts as Alertmanager silences (issue #11, "ack as a silence").

A notifier for the outbox like the channels in `receiver.notifiers`, driven by the jobs an
acknowledgement produces:

- ACKNOWLEDGED: create a silence through Alertmanager's API v2 with one equality matcher per
  label of the alert, ending with the ack (or `max_duration` after it when the ack lasts
  until the alert resolves: a silence needs an end). Alertmanager then stops re-sending it.
- UNACKNOWLEDGED / RESOLVED: expire (DELETE) that silence.

Idempotent at the far end (design invariant 4): before creating, the notifier lists the
silences it made for the same labels (its `comment_prefix`, matchers equal to the labels)
and adopts one this very ack made, so a retry after an unknown outcome (a timeout, a crash
between the send and recording it) does not create a second silence; expiring takes every
such silence, not only the one in the state. API reference:
https://github.com/prometheus/alertmanager/blob/main/api/v2/openapi.yaml
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from receiver.config.durations import Duration
from receiver.config.loader import StrictModel, secret_file_problems
from receiver.models import AckInfo, Notification, Reason
from receiver.notifiers.base import (
    DeliveryResult,
    classify_exception,
    classify_http,
    client_error,
    exactly_one,
    invalid_config,
    load_secret,
    ok,
    snippet,
)

WHAT = "alertmanager silence"
# The destination name the acknowledgement's jobs use (not a configurable receiver name).
DESTINATION = "alertmanager-silence"
# Label values sent as a server-side `filter` on the silence list; anything else is only
# compared here (the filter syntax has its own quoting rules, not worth depending on).
_FILTER_SAFE = re.compile(r"[A-Za-z0-9_.:/ -]{1,200}")


class SilenceConfig(StrictModel):
    """`ack.alertmanager_silence`: which Alertmanager gets a silence for each ack."""

    model_config = ConfigDict(frozen=True)

    url: str = Field(description="Alertmanager's base URL, e.g. http://alertmanager:9093")
    timeout: float = Field(5.0, gt=0, description="seconds per request")
    # Default 24h (a silence needs an end; an ack until resolve gets this long a silence).
    max_duration: Duration = 86400.0
    created_by: str = Field("alert-receiver", min_length=1)
    bearer_token: SecretStr | None = None
    bearer_token_file: Path | None = None
    comment_prefix: str = Field("Acknowledged in alert-receiver", min_length=1)

    @field_validator("url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url must be http:// or https:// with a host, got {v!r}")
        if parts.query or parts.fragment:
            raise ValueError("url is Alertmanager's base URL: no query string or fragment")
        return v.rstrip("/")  # a path prefix (--web.route-prefix) is kept

    @field_validator("max_duration")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v < 1:
            raise ValueError("max_duration must be at least 1s")
        return v

    @model_validator(mode="after")
    def _one_token(self) -> SilenceConfig:
        exactly_one(self, "bearer_token", "bearer_token_file", required=False)
        return self

    def problems(self) -> list[tuple[str, str]]:
        """(field, message) for an unreadable token file; for check-config and serve."""
        return secret_file_problems({"bearer_token_file": self.bearer_token_file})


# -- pure decisions -------------------------------------------------------------------------


def rfc3339_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def parse_ms(text: str) -> int | None:
    try:
        return int(datetime.fromisoformat(text).timestamp() * 1000)
    except (TypeError, ValueError):
        return None


def matchers(labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """One exact matcher per label: the silence covers this alert and nothing broader."""
    return [
        {"name": k, "value": labels[k], "isRegex": False, "isEqual": True} for k in sorted(labels)
    ]


def ends_at_ms(ack: AckInfo, max_duration_s: float) -> int:
    """The ack's expiry, or `max_duration` after the ack. Counted from the ack, not from the
    attempt, so a retried job asks for the very same silence."""
    return ack.until_ms if ack.until_ms > 0 else ack.at_ms + int(max_duration_s * 1000)


def silence_body(n: Notification, ack: AckInfo, cfg: SilenceConfig, now_ms: int) -> dict[str, Any]:
    """The postableSilence for an ACKNOWLEDGED job."""
    comment = f"{cfg.comment_prefix} via {ack.via}"
    if ack.comment.strip():
        comment += f": {ack.comment.strip()}"
    return {
        "matchers": matchers(n.alert.labels),
        "startsAt": rfc3339_ms(now_ms),
        "endsAt": rfc3339_ms(ends_at_ms(ack, cfg.max_duration)),
        "createdBy": ack.by.strip() or cfg.created_by,
        "comment": comment,
    }


def is_ours(silence: Mapping[str, Any], labels: Mapping[str, str], prefix: str) -> bool:
    """A silence this notifier made for these labels, still active or pending."""
    if silence.get("status", {}).get("state") not in ("active", "pending"):
        return False
    if not str(silence.get("comment", "")).startswith(prefix):
        return False
    theirs = {
        (m.get("name"), m.get("value"), bool(m.get("isRegex")), m.get("isEqual", True))
        for m in silence.get("matchers", [])
        if isinstance(m, dict)
    }
    return theirs == {(k, v, False, True) for k, v in labels.items()}


def same_silence(silence: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Whether an existing silence is the one `wanted` describes (made by the same ack)."""
    ends, wanted_ends = parse_ms(str(silence.get("endsAt"))), parse_ms(wanted["endsAt"])
    return (
        silence.get("comment") == wanted["comment"]
        and silence.get("createdBy") == wanted["createdBy"]
        and ends is not None
        and wanted_ends is not None
        and abs(ends - wanted_ends) <= 1000
    )


def already_done(state: Mapping[str, str], n: Notification, ack: AckInfo) -> bool:
    """The state says this very ack of this episode already has its silence."""
    return (
        bool(state.get("silence_id"))
        and state.get("starts_at") == n.alert.startsAt
        and state.get("ack_at_ms") == str(ack.at_ms)
    )


def gone(status: int, body: str) -> bool:
    """A DELETE whose silence does not exist: done. The API answers 404; Alertmanager up to
    at least 0.25 answers 500 with the payload "silence not found" instead (seen with Debian's
    0.25.0; later versions map silence.ErrNotFound to the 404 the openapi spec documents)."""
    return status == 404 or (status == 500 and "silence not found" in body)


class _Failed(Exception):
    """An answer that ends this send with `result` (raised inside, returned by send())."""

    def __init__(self, result: DeliveryResult) -> None:
        super().__init__(result.detail)
        self.result = result


# -- the notifier ---------------------------------------------------------------------------


class SilenceNotifier:
    """Creates and expires Alertmanager silences for ack jobs. Never raises, never sleeps."""

    def __init__(
        self,
        name: str,
        cfg: SilenceConfig,
        session: aiohttp.ClientSession,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.cfg = cfg
        self._session = session
        self._clock = clock
        token, self._config_error = load_secret(cfg.bearer_token, cfg.bearer_token_file)
        self._headers = {"User-Agent": "alert-receiver", "Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    async def close(self) -> None:
        return None  # the HTTP session belongs to the app

    async def send(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        if self._config_error:
            return invalid_config(f"{WHAT}: {self._config_error}")
        try:
            if n.reason is Reason.ACKNOWLEDGED:
                return await self._silence(n, state)
            if n.reason in (Reason.UNACKNOWLEDGED, Reason.RESOLVED):
                return await self._unsilence(n, state)
            return ok(f"{WHAT}: nothing to do for {n.reason}")
        except _Failed as f:
            return f.result
        except Exception as e:
            return classify_exception(e, WHAT)

    async def _silence(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        ack = n.ack
        if ack is None:
            return client_error(f"{WHAT}: an acknowledged job without its ack")
        if already_done(state, n, ack):
            return ok(f"{WHAT}: {state['silence_id']} exists already", dict(state))
        now_ms = int(self._clock() * 1000)
        if ends_at_ms(ack, self.cfg.max_duration) <= now_ms:
            return ok(f"{WHAT}: the ack has expired already, nothing to silence")
        wanted = silence_body(n, ack, self.cfg, now_ms)
        ours = await self._ours(n.alert.labels)
        found = next((s for s in ours if same_silence(s, wanted)), None)
        if found is not None:  # made by an attempt whose answer was lost
            return ok(f"{WHAT}: {found['id']} exists already", self._state(n, ack, found["id"]))
        # A new ack of the same alert (another expiry, another comment) replaces the earlier
        # silence: Alertmanager updates it in place or expires it and creates a new one.
        previous = state.get("silence_id", "")
        ids = [s["id"] for s in ours]
        replace = previous if previous in ids else (ids[0] if ids else "")
        silence_id = await self._post(wanted, replace)
        return ok(f"{WHAT}: created {silence_id}", self._state(n, ack, silence_id))

    async def _unsilence(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        ids = [state["silence_id"]] if state.get("silence_id") else []
        ids += [s["id"] for s in await self._ours(n.alert.labels) if s["id"] not in ids]
        for silence_id in ids:
            await self._expire(silence_id)
        # A non-empty state, so that the worker records that no silence is left.
        cleared = {"silence_id": "", "starts_at": n.alert.startsAt}
        return ok(f"{WHAT}: expired {len(ids)} silence(s)", cleared)

    @staticmethod
    def _state(n: Notification, ack: AckInfo, silence_id: str) -> dict[str, str]:
        return {
            "silence_id": silence_id,
            "starts_at": n.alert.startsAt,
            "ack_at_ms": str(ack.at_ms),
        }

    # -- Alertmanager API v2 ----------------------------------------------------------------

    async def _call(
        self, method: str, path: str, body: Any = None, params: list[tuple[str, str]] | None = None
    ) -> tuple[int, str, DeliveryResult]:
        """One request: (status, body text, classify_http's verdict)."""
        headers = dict(self._headers)
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        timeout = aiohttp.ClientTimeout(total=self.cfg.timeout)
        async with self._session.request(
            method, self.cfg.url + path, data=data, params=params, headers=headers, timeout=timeout
        ) as resp:
            text = await resp.text(errors="replace")
            verdict = classify_http(resp.status, resp.headers, text, f"{WHAT}: {method} {path}")
            return resp.status, text, verdict

    async def _ours(self, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        """The active or pending silences this notifier made for exactly these labels."""
        params = [("filter", f'{k}="{v}"') for k, v in sorted(labels.items())
                  if _FILTER_SAFE.fullmatch(k) and _FILTER_SAFE.fullmatch(v)]  # fmt: skip
        _status, text, verdict = await self._call("GET", "/api/v2/silences", params=params)
        if not verdict.ok:
            raise _Failed(verdict)
        try:
            listed = json.loads(text)
        except ValueError:
            listed = None
        if not isinstance(listed, list):  # not an Alertmanager there: a wrong url
            raise _Failed(
                client_error(f"{WHAT}: GET /api/v2/silences: not a list: {snippet(text)}")
            )
        return [
            s
            for s in listed
            if isinstance(s, dict) and s.get("id") and is_ours(s, labels, self.cfg.comment_prefix)
        ]

    async def _post(self, wanted: dict[str, Any], replace: str) -> str:
        """POST /api/v2/silences (with `id`: replace that silence); the silence's ID."""
        status, text, verdict = await self._call(
            "POST", "/api/v2/silences", {**wanted, "id": replace} if replace else wanted
        )
        if replace and status == 404:  # expired and collected since the listing: start anew
            status, text, verdict = await self._call("POST", "/api/v2/silences", wanted)
        if not verdict.ok:
            raise _Failed(verdict)
        try:
            silence_id = json.loads(text)["silenceID"]
        except (ValueError, KeyError, TypeError):
            silence_id = None
        if not isinstance(silence_id, str) or not silence_id:
            raise _Failed(
                client_error(f"{WHAT}: POST answered without a silenceID: {snippet(text)}")
            )
        return silence_id

    async def _expire(self, silence_id: str) -> None:
        """DELETE /api/v2/silence/{id}; a silence that no longer exists counts as expired
        (expiring an expired one is a 200 already)."""
        path = f"/api/v2/silence/{quote(silence_id, safe='')}"
        status, text, verdict = await self._call("DELETE", path)
        if not verdict.ok and not gone(status, text):
            raise _Failed(verdict)
