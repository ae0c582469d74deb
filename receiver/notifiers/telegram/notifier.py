"""Telegram: one message per alert, posted once (sendMessage) and edited in place
(editMessageText) on repeat, acknowledgement and resolve; a new firing episode posts anew.

The state kept per (alert, destination): chat, message_id, starts_at (the episode) and
`cb`, the nonce in the Acknowledge button's callback_data (message.py), by which a
press is matched to this alert and episode (receiver/api/telegram_webhook.py).
https://core.telegram.org/bots/api#sendmessage, #editmessagetext.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp

from receiver.models import Notification, Reason
from receiver.notifiers.base import (
    UNCERTAIN,
    DeliveryResult,
    NotifierBase,
    classify_exception,
    invalid_config,
    load_secret,
    ok,
)
from receiver.notifiers.render import Renderer, escalation_line
from receiver.notifiers.telegram.api import BotApi, TelegramError, classify
from receiver.notifiers.telegram.config import TelegramConfig
from receiver.notifiers.telegram.message import build_message, button_nonce, esc

log = logging.getLogger("receiver.notifiers.telegram")

# editMessageText answers 400 with these when the message cannot be edited any more: post
# a new one. "message is not modified": it already reads so (a redelivered edit): done.
MESSAGE_GONE = ("message to edit not found", "message can't be edited")
NOT_MODIFIED = "message is not modified"


class TelegramNotifier(NotifierBase[TelegramConfig]):
    def __init__(
        self, name: str, cfg: TelegramConfig, session: aiohttp.ClientSession, renderer: Renderer
    ) -> None:
        super().__init__(name, cfg, session, renderer)
        token, self._config_error = load_secret(cfg.token, cfg.token_file)
        self.api = BotApi(session, cfg.api_url, token)
        self._token = token

    async def send(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        if self._config_error:
            return invalid_config(f"telegram: {self._config_error}")
        try:
            if n.reason in (Reason.ACKNOWLEDGED, Reason.UNACKNOWLEDGED):
                return await self._acknowledge(n, state)
            return await self._send(n, state)
        except TelegramError as e:
            return classify(e)
        except Exception as e:
            return classify_exception(e, "telegram")

    async def _acknowledge(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        """An ack (or unack) job: the alert's message says who acknowledged it, without the
        button (or is the firing message with it again). No message of this episode: done."""
        if not state.get("message_id") or state.get("starts_at") != n.alert.startsAt:
            return ok("telegram: no message of this episode to update", _kept(state))
        by = (n.ack.by or "someone") if n.reason is Reason.ACKNOWLEDGED and n.ack else ""
        return await self._edit(n, state, by, lambda: _nothing(state))

    async def _send(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        if n.summary_total > 0:  # a storm summary stands for many alerts: no state
            text, markup = build_message(n, self._renderer)
            result = await self._post(text, markup)
            return ok(f"telegram: posted storm summary {result.get('message_id')}")
        if state.get("message_id") and state.get("starts_at") == n.alert.startsAt:
            edited = await self._edit(n, state, "", lambda: self._send_new(n))
            if n.reason is Reason.ESCALATED and edited.ok:
                await self._reply(n, edited.state)  # an edit notifies no one; a reply does
            return edited
        if state.get(UNCERTAIN):
            # An earlier attempt may have posted, and Telegram cannot tell us (no history
            # for bots, no idempotency key): a possible duplicate rather than a lost alert.
            # A retry follows an answer (a 429, a 5xx) or a timeout; a reclaimed job may have
            # died between Telegram's answer and the record: that is the one to flag.
            level = logging.WARNING if state[UNCERTAIN] == "reclaimed" else logging.INFO
            log.log(level, "telegram: cannot tell whether an earlier attempt posted, posting",
                    extra={"destination": self.name, "key": n.key})  # fmt: skip
        return await self._send_new(n)

    async def _send_new(self, n: Notification) -> DeliveryResult:
        nonce = button_nonce(self._token, n.key) if self.cfg.ack_button else ""
        text, markup = build_message(n, self._renderer, nonce)
        result = await self._post(text, markup)
        chat = str((result.get("chat") or {}).get("id", self.cfg.chat_id))
        message_id = str(result.get("message_id", ""))
        state = {"chat": chat, "message_id": message_id, "starts_at": n.alert.startsAt}
        if nonce:
            state["cb"] = nonce
        return ok(f"telegram: posted {message_id} in {chat}", state)

    async def _reply(self, n: Notification, state: Mapping[str, str]) -> None:
        """A short reply to the alert's message (https://core.telegram.org/bots/api#replyparameters)."""
        line = escalation_line(n) or "Escalated"
        reply = {"message_id": int(state["message_id"]), "allow_sending_without_reply": True}
        body = {"chat_id": state.get("chat") or self.cfg.chat_id, "text": esc(line),
                "parse_mode": "HTML", "reply_parameters": reply}  # fmt: skip
        await self.api.call("sendMessage", body, self.cfg.timeout)

    async def _post(self, text: str, markup: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"chat_id": self.cfg.chat_id, "text": text, "parse_mode": "HTML",
                                "link_preview_options": {"is_disabled": True}}  # fmt: skip
        if markup["inline_keyboard"]:
            body["reply_markup"] = markup
        result = await self.api.call("sendMessage", body, self.cfg.timeout)
        return result if isinstance(result, dict) else {}

    async def _edit(
        self,
        n: Notification,
        state: Mapping[str, str],
        acked_by: str,
        gone: Callable[[], Awaitable[DeliveryResult]],
    ) -> DeliveryResult:
        """Edit the state's message; `gone()` when Telegram cannot edit it any more."""
        text, markup = build_message(n, self._renderer, state.get("cb", ""), acked_by)
        body = {"chat_id": state.get("chat") or self.cfg.chat_id,
                "message_id": int(state["message_id"]), "text": text, "parse_mode": "HTML",
                "link_preview_options": {"is_disabled": True},
                "reply_markup": markup}  # fmt: skip
        try:
            await self.api.call("editMessageText", body, self.cfg.timeout)
        except TelegramError as e:
            lowered = e.description.lower()
            if e.code == 400 and any(g in lowered for g in MESSAGE_GONE):
                return await gone()
            if not (e.code == 400 and NOT_MODIFIED in lowered):
                raise
        return ok(f"telegram: updated {state['message_id']} in {body['chat_id']}", _kept(state))


async def _nothing(state: Mapping[str, str]) -> DeliveryResult:
    return ok("telegram: the message is gone, nothing to update", _kept(state))


def _kept(state: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in state.items() if k != UNCERTAIN}
