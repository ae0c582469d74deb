"""Teams: a card per alert through a Workflows webhook, and follow-up cards naming it.

Workflows answers 202 Accepted once it has queued the flow run (200 from some triggers),
429 with Retry-After when throttled, 401/403 for a URL whose `sig` is wrong, 404 for a
flow that is gone; errors are JSON `{"error": {"code": …, "message": …}}`
(https://learn.microsoft.com/en-us/power-automate/limits-and-config,
https://learn.microsoft.com/en-us/azure/logic-apps/logic-apps-limits-and-config).
What this channel can and cannot do: notifiers/teams/__init__.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import aiohttp
import orjson

from receiver.models import Notification, Reason
from receiver.notifiers.base import (
    UNCERTAIN,
    DeliveryResult,
    NotifierBase,
    classify_exception,
    classify_http,
    invalid_config,
    load_secret,
    ok,
    snippet,
)
from receiver.notifiers.render import Renderer
from receiver.notifiers.teams.card import build_card
from receiver.notifiers.teams.config import TeamsConfig, url_problem

HEADERS = {"Content-Type": "application/json", "User-Agent": "alert-receiver"}


def classify(status: int, headers: Mapping[str, str], text: str) -> DeliveryResult:
    """2xx (202) ok; 429 rate limited with Retry-After; 5xx retryable; 401/403/404 a
    wrong webhook URL (INVALID_CONFIG); other 4xx CLIENT_ERROR."""
    what = _error_text(text)
    result = classify_http(status, headers, what, "teams")
    if status in (401, 403, 404):
        return invalid_config(result.detail)
    return result


def _error_text(text: str) -> str:
    """ "code message" of a JSON error answer, else the answer's start."""
    try:
        error = orjson.loads(text).get("error") if text else None
    except (orjson.JSONDecodeError, AttributeError):
        error = None
    if isinstance(error, dict) and error:
        return snippet(f"{error.get('code', '')} {error.get('message', '')}".strip())
    return snippet(text)


def follows_line(state: Mapping[str, str]) -> str:
    """What a follow-up card says about the first card of the episode."""
    return f"Follows up “{state['first']}”, posted {state['posted_at']}."


class TeamsNotifier(NotifierBase[TeamsConfig]):
    def __init__(
        self,
        name: str,
        cfg: TeamsConfig,
        session: aiohttp.ClientSession,
        renderer: Renderer,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(name, cfg, session, renderer)
        self._clock = clock
        self._url, self._config_error = load_secret(cfg.webhook_url, cfg.webhook_url_file)
        if self._url and (problem := url_problem(self._url)):
            self._config_error = f"the webhook URL {problem}"

    async def send(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        if self._config_error:
            return invalid_config(f"teams: {self._config_error}")
        try:
            return await self._send(n, {k: v for k, v in state.items() if k != UNCERTAIN})
        except Exception as e:
            return classify_exception(e, "teams")

    async def _send(self, n: Notification, state: dict[str, str]) -> DeliveryResult:
        if n.summary_total > 0:  # a storm summary stands for many alerts: no state
            _, message = build_card(n, self._renderer)
            return await self._post(message)
        if state.get("last") == n.key:  # this very job was posted and recorded already
            return ok("teams: this notification's card was posted already", state)
        episode = bool(state.get("first")) and state.get("starts_at") == n.alert.startsAt
        if n.reason in (Reason.ACKNOWLEDGED, Reason.UNACKNOWLEDGED):
            if not episode:  # no card of this episode to follow up: not a failure
                return ok("teams: no card of this episode to follow up", state)
            by = (n.ack.by or "someone") if n.reason is Reason.ACKNOWLEDGED and n.ack else ""
            _, message = build_card(n, self._renderer, follows_line(state), acked_by=by,
                                    unacked=n.reason is Reason.UNACKNOWLEDGED)  # fmt: skip
        elif n.reason is Reason.NEW and episode:
            return ok("teams: this episode's card was posted already", state)
        else:
            follows = follows_line(state) if episode else ""
            title, message = build_card(n, self._renderer, follows)
        result = await self._post(message)
        if not result.ok:
            return result
        if episode:
            return ok(result.detail, {**state, "last": n.key})
        posted = datetime.fromtimestamp(self._clock(), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return ok(result.detail, {"starts_at": n.alert.startsAt, "first": title,
                                  "posted_at": posted, "last": n.key})  # fmt: skip

    async def _post(self, message: dict[str, object]) -> DeliveryResult:
        async with self._session.post(
            self._url, data=orjson.dumps(message), headers=HEADERS,
            timeout=aiohttp.ClientTimeout(total=self.cfg.timeout),
        ) as resp:  # fmt: skip
            text = await resp.text(errors="replace")
            return classify(resp.status, resp.headers, text)
