"""Discord: one message per alert through an incoming webhook, edited on ack and resolve.

Execute Webhook with `?wait=true` answers the created message, whose `id` is kept in the
delivery state with the episode's `startsAt`; Edit Webhook Message
(`PATCH /webhooks/{id}/{token}/messages/{message_id}`) updates it for a repeat, the
resolve, an ack or an unack of the same episode; a new episode posts anew.
https://discord.com/developers/docs/resources/webhook#execute-webhook
https://discord.com/developers/docs/resources/webhook#edit-webhook-message
Errors are JSON `{"code": …, "message": …}`
(https://discord.com/developers/docs/topics/opcodes-and-status-codes#json): 10008 Unknown
Message means the message was deleted (post a new one), 10015 Unknown Webhook and 50027
Invalid Webhook Token a wrong URL. Rate limits: notifiers/discord/limits.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import orjson
from yarl import URL

from receiver.models import Notification, Reason
from receiver.notifiers.base import (
    UNCERTAIN,
    DeliveryResult,
    NotifierBase,
    Outcome,
    classify_exception,
    client_error,
    invalid_config,
    load_secret,
    ok,
    snippet,
)
from receiver.notifiers.discord.config import DiscordConfig, url_problem
from receiver.notifiers.discord.limits import Bucket, is_global, retry_after, wait_after
from receiver.notifiers.discord.message import MAX_CONTENT, build_message, md_escape
from receiver.notifiers.render import Renderer, escalation_line, summary_line, truncate

USER_AGENT = "alert-receiver"
UNKNOWN_MESSAGE = 10008
HEADERS = {"Content-Type": "application/json", "User-Agent": USER_AGENT}


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None


def classify(status: int, headers: Mapping[str, str], data: Any, text: str) -> DeliveryResult:
    """One Discord answer as a result: 2xx ok; 429 RATE_LIMITED with its wait; 5xx
    retryable; 401/403/404 a wrong webhook URL (INVALID_CONFIG); other 4xx CLIENT_ERROR."""
    code = data.get("code") if isinstance(data, dict) else None
    message = data.get("message") if isinstance(data, dict) else None
    what = f"{code or ''} {message}".strip() if message else snippet(text)
    detail = f"discord: HTTP {status} {what}".rstrip()
    if 200 <= status < 300:
        return ok(detail)
    if status == 429:
        scope = " (global)" if is_global(headers, data) else ""
        return DeliveryResult(Outcome.RATE_LIMITED, True, detail + scope,
                              retry_after_s=retry_after(headers, data))  # fmt: skip
    if status >= 500:
        return DeliveryResult(Outcome.SERVER_ERROR, True, detail,
                              retry_after_s=retry_after(headers, data))  # fmt: skip
    if status in (401, 403, 404):
        return invalid_config(detail)
    return client_error(detail)


def _kept(state: Mapping[str, str]) -> dict[str, str]:
    """The state to keep as it is (without the worker's UNCERTAIN marker)."""
    return {k: v for k, v in state.items() if k != UNCERTAIN}


class DiscordNotifier(NotifierBase[DiscordConfig]):
    def __init__(
        self,
        name: str,
        cfg: DiscordConfig,
        session: aiohttp.ClientSession,
        renderer: Renderer,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name, cfg, session, renderer)
        self._clock = clock
        self._bucket = Bucket()
        url, self._config_error = load_secret(cfg.webhook_url, cfg.webhook_url_file)
        self._url = URL(url) if url else URL()
        if url and (problem := url_problem(url)):
            self._config_error = f"the webhook URL {problem}"

    async def send(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        if self._config_error:
            return invalid_config(f"discord: {self._config_error}")
        try:
            return await self._send(n, state)
        except Exception as e:
            return classify_exception(e, "discord")

    async def _send(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        storm = n.summary_total > 0
        mine = bool(state.get("message_id")) and state.get("starts_at") == n.alert.startsAt
        if n.reason in (Reason.ACKNOWLEDGED, Reason.UNACKNOWLEDGED):
            if not mine:  # nothing of this episode to edit: not a failure
                return ok("discord: no message of this episode to update", _kept(state))
            by = (n.ack.by or "someone") if n.reason is Reason.ACKNOWLEDGED and n.ack else ""
            edited = await self._edit(n, state, by)
            return edited or ok("discord: the message is gone, nothing to update", _kept(state))
        if not storm and mine:
            edited = await self._edit(n, state, "")
            if edited is not None and edited.ok and n.reason is Reason.ESCALATED:
                # An edit notifies no one; an escalation step must: a short new message
                # that points at the alert's own (which keeps the state).
                return await self._escalation_note(n, state)
            if edited is not None:
                return edited
        # A storm summary stands for many alerts: no state for the sample alert it carries.
        body = build_message(n, self._renderer, self.cfg.username)
        url = self._url.update_query(wait="true")
        result, data = await self._request("POST", url, body)
        if not result.ok:
            return result
        message_id = str(data.get("id", "")) if isinstance(data, dict) else ""
        if storm or not message_id:
            return ok(f"discord: posted {message_id or '(no id)'}")
        return ok(f"discord: posted {message_id}",
                  {"message_id": message_id, "starts_at": n.alert.startsAt})  # fmt: skip

    async def _escalation_note(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        text = f"⬆️ {escalation_line(n) or 'Escalated'}: {summary_line(n.alert)}"
        body = {"content": truncate(md_escape(text), MAX_CONTENT),
                "allowed_mentions": {"parse": []}}  # fmt: skip
        if self.cfg.username:
            body["username"] = self.cfg.username
        result, _ = await self._request("POST", self._url.update_query(wait="true"), body)
        if not result.ok:
            return result
        return ok(f"discord: updated {state['message_id']} and posted the escalation", _kept(state))

    async def _edit(
        self, n: Notification, state: Mapping[str, str], by: str
    ) -> DeliveryResult | None:
        """PATCH the recorded message; None when Discord no longer has it (deleted), so
        the caller posts anew."""
        message_id = state["message_id"]
        url = self._url.with_path(f"{self._url.path.rstrip('/')}/messages/{message_id}",
                                  keep_query=True)  # fmt: skip
        body = build_message(n, self._renderer, None, by)
        result, data = await self._request("PATCH", url, body)
        if isinstance(data, dict) and data.get("code") == UNKNOWN_MESSAGE:
            return None
        if not result.ok:
            return result
        return ok(f"discord: updated {message_id}", _kept(state))

    async def _request(
        self, method: str, url: URL, body: dict[str, Any]
    ) -> tuple[DeliveryResult, Any]:
        """One request, within the bucket: a short wait is slept, a longer one comes back
        as RATE_LIMITED without any request."""
        wait = self._bucket.wait(self._clock())
        if wait > self.cfg.max_inline_wait:
            detail = f"discord: rate limit bucket empty for {wait:.2f}s more (no request made)"
            return DeliveryResult(Outcome.RATE_LIMITED, True, detail, retry_after_s=wait), None
        if wait > 0:
            await asyncio.sleep(wait)
        async with self._session.request(
            method, url, data=orjson.dumps(body), headers=HEADERS,
            timeout=aiohttp.ClientTimeout(total=self.cfg.timeout),
        ) as resp:  # fmt: skip
            raw = await resp.read()
            status, headers = resp.status, resp.headers
        data = _json(raw)
        self._bucket.note(self._clock(), wait_after(status, headers, data))
        return classify(status, headers, data, raw.decode("utf-8", "replace")), data
