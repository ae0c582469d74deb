"""Slack: one message per alert, posted once and updated (chat.update) on repeat/ack/resolve.

Bot-token mode calls the Web API (notifiers/slack/api.py) on the app's shared aiohttp
session; incoming-webhook mode can only post. Slack answers most errors with HTTP 200 and
{"ok": false, "error": "..."}: https://api.slack.com/methods/chat.postMessage#errors
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import TypeVar

import aiohttp
import orjson

from receiver.models import Notification, Reason
from receiver.notifiers.base import (
    UNCERTAIN,
    DeliveryResult,
    NotifierBase,
    Outcome,
    classify_exception,
    classify_http,
    client_error,
    invalid_config,
    load_secret,
    ok,
    parse_retry_after,
    snippet,
)
from receiver.notifiers.render import (
    Renderer,
    is_resolved,
)
from receiver.notifiers.slack.api import USER_AGENT, SlackApi, SlackApiError, request
from receiver.notifiers.slack.config import SlackConfig
from receiver.notifiers.slack.lookup import NOT_SURE, HistoryLookup, message_metadata
from receiver.notifiers.slack.message import build_message

T = TypeVar("T")
log = logging.getLogger("receiver.notifiers.slack")

# Error codes of https://api.slack.com/methods/chat.postMessage#errors (and chat.update's).
CONFIG_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "channel_not_found",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_in_channel",
        "is_archived",
        "missing_scope",
        "no_permission",
    }
)
SERVER_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
# chat.update cannot touch the message any more: post a fresh one instead.
MESSAGE_GONE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})


def classify_slack_error(e: SlackApiError) -> DeliveryResult:
    status, error = e.status, e.error
    detail = f"slack: HTTP {status} {error or snippet(str(e.data or ''))}".rstrip()
    if status == 429 or error == "ratelimited":
        retry_after = parse_retry_after(e.headers.get("Retry-After"))
        return DeliveryResult(Outcome.RATE_LIMITED, True, detail, retry_after_s=retry_after)
    if error in CONFIG_ERRORS:
        return invalid_config(detail)
    if error in SERVER_ERRORS or (not error and status >= 500):
        return DeliveryResult(Outcome.SERVER_ERROR, True, detail)
    return client_error(detail)


def direct_user(n: Notification) -> str:
    """The Slack user a person's rule messages directly (its recipient "person@U…"), else
    "" (the receiver's channel)."""
    if n.person is None or not n.recipients:
        return ""
    return n.recipients[0].rpartition("@")[2]


class SlackNotifier(NotifierBase[SlackConfig]):
    def __init__(
        self,
        name: str,
        cfg: SlackConfig,
        session: aiohttp.ClientSession,
        renderer: Renderer,
    ) -> None:
        super().__init__(name, cfg, session, renderer)
        self._ack_button = renderer.ack_button and cfg.ack_button
        self._deadline = cfg.timeout + (cfg.max_inline_retry_after + 1.0)
        self._client: SlackApi | None = None
        self._lookup: HistoryLookup | None = None
        self._hook_url = ""
        if cfg.mode == "bot":
            token, self._config_error = load_secret(cfg.token, cfg.token_file)
            self._client = SlackApi(session, cfg.api_url, token, cfg.max_inline_retry_after)
            self._lookup = HistoryLookup(self._client, cfg.channel or "", self._timed)
        else:
            self._hook_url, self._config_error = load_secret(cfg.webhook_url,
                                                             cfg.webhook_url_file)  # fmt: skip

    async def send(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        if n.reason in (Reason.ACKNOWLEDGED, Reason.UNACKNOWLEDGED):
            return await self.acknowledge(n, state)
        return await self._guard(lambda: self._send(n, state))

    async def acknowledge(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        """An ack (or unack) job: update the alert's message in place, "Acknowledged by X"
        without the button (or the firing message with it again). Nothing to update (an
        incoming webhook cannot edit; no message of this episode) is not a failure."""
        if self._client is None or not state.get("ts") or not state.get("channel"):
            return ok("slack: no message to update", dict(state))
        if state.get("starts_at", n.alert.startsAt) != n.alert.startsAt:
            return ok("slack: the message is of another episode", dict(state))
        by = ""
        if n.reason is Reason.ACKNOWLEDGED and n.ack is not None:
            by = n.ack.by or "someone"
        return await self._guard(lambda: self._update(n, state, acked_by=by))

    async def _guard(self, call: Callable[[], Awaitable[DeliveryResult]]) -> DeliveryResult:
        """Never raise: config problems, Slack errors and network trouble become results."""
        if self._config_error:
            return invalid_config(f"slack: {self._config_error}")
        try:
            return await call()
        except SlackApiError as e:
            return classify_slack_error(e)
        except Exception as e:
            return classify_exception(e, "slack")

    async def _timed(self, aw: Awaitable[T]) -> T:
        async with asyncio.timeout(self._deadline):
            return await aw

    async def _send(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        if self._client is None:
            return await self._post_webhook(n)
        storm = n.summary_total > 0
        if not storm and self._updatable(n, state):
            try:
                return await self._update(n, state)
            except SlackApiError as e:
                if e.error not in MESSAGE_GONE:
                    raise
        dm = direct_user(n)
        if state.get(UNCERTAIN) and not dm:
            # An earlier attempt may have posted: look before posting a second message
            # (in the receiver's channel; a direct message is posted again: at least once).
            found = await self._posted_earlier(n)
            if isinstance(found, DeliveryResult):
                return found  # the lookup failed for now: retried like a failed post
            if found is not None:
                channel, ts = found
                kept = {"channel": channel, "ts": ts, "starts_at": n.alert.startsAt}
                kept = {} if storm else kept
                return ok(f"slack: already posted {ts} in {channel} (found by metadata)", kept)
        text, blocks = build_message(n, self._renderer, ack_button=self._ack_button)
        resp = await self._timed(self._client.post("chat.postMessage", {
            "channel": dm or self.cfg.channel or "", "text": text, "blocks": blocks,
            "metadata": message_metadata(n),
        }))  # fmt: skip
        channel, ts = str(resp.get("channel", self.cfg.channel)), str(resp.get("ts", ""))
        if channel and self._lookup is not None and not dm:
            self._lookup.channel_id = channel  # the ID, where the config may name the channel
        # A storm summary stands for many alerts: no state for the sample alert it carries.
        new_state = {} if storm else {"channel": channel, "ts": ts, "starts_at": n.alert.startsAt}
        return ok(f"slack: posted {ts} in {channel}", new_state)

    async def _posted_earlier(self, n: Notification) -> tuple[str, str] | DeliveryResult | None:
        """(channel, ts) of the message an earlier attempt of this job posted
        (notifiers/slack/lookup.py); None when there is none or it cannot be known (then
        posting is right: a possible duplicate rather than a missing alert); a retryable
        result when Slack could not answer now (the job is retried, nothing posted)."""
        assert self._lookup is not None
        try:
            ts = await self._lookup.find(n)
        except SlackApiError as e:
            failed = classify_slack_error(e)
        except Exception as e:
            failed = classify_exception(e, "slack")
        else:
            if ts == NOT_SURE:
                log.warning("slack: cannot tell whether an earlier attempt posted, posting",
                            extra={"destination": self.name, "key": n.key})  # fmt: skip
                return None
            return None if ts is None else (self._lookup.channel_id, ts)
        if failed.retryable:
            return replace(failed, detail=f"looking for an earlier post: {failed.detail}")
        log.warning(
            "slack: cannot look for an earlier post, posting (a duplicate is possible)",
            extra={"destination": self.name, "key": n.key, "detail": failed.detail},
        )
        return None

    @staticmethod
    def _updatable(n: Notification, state: Mapping[str, str]) -> bool:
        """Update the earlier message when it is about the same firing (same startsAt); a
        NEW with that startsAt is a redelivery, a NEW with another one a new episode."""
        if not state.get("ts") or not state.get("channel"):
            return False
        if "starts_at" in state:
            return state["starts_at"] == n.alert.startsAt
        return n.reason is not Reason.NEW

    async def _update(
        self, n: Notification, state: Mapping[str, str], acked_by: str = ""
    ) -> DeliveryResult:
        assert self._client is not None
        channel, ts = state["channel"], state["ts"]
        text, blocks = build_message(n, self._renderer, self._ack_button, acked_by)
        await self._timed(self._client.post(
            "chat.update", {"channel": channel, "ts": ts, "text": text, "blocks": blocks}
        ))  # fmt: skip
        # An escalation is news even on the alert's own message: say it in the thread.
        replies = self.cfg.thread_replies and (n.reason is Reason.REPEAT or is_resolved(n)
                                               or bool(acked_by))  # fmt: skip
        if replies or n.reason is Reason.ESCALATED:
            await self._timed(self._client.post(
                "chat.postMessage", {"channel": channel, "thread_ts": ts, "text": text}
            ))  # fmt: skip
        return ok(f"slack: updated {ts} in {channel}", dict(state))

    async def _post_webhook(self, n: Notification) -> DeliveryResult:
        text, blocks = build_message(n, self._renderer, ack_button=self._ack_button)
        body = orjson.dumps({"text": text, "blocks": blocks})
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
        resp = await self._timed(request(self._session, "POST", self._hook_url,
                                         self.cfg.max_inline_retry_after, data=body,
                                         headers=headers))  # fmt: skip
        result = classify_http(resp.status, resp.headers, resp.text, "slack webhook")
        # https://api.slack.com/messaging/webhooks#handling_errors: 403 invalid_token /
        # action_prohibited, 404 no_service / channel_not_found, 410 channel_is_archived.
        if resp.status in (403, 404, 410):
            return invalid_config(result.detail)
        return result
