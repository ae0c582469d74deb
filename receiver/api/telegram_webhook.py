"""POST /telegram/webhook, and the handling of every Telegram update (webhook or polling):
a press of an alert's Acknowledge button acks it, via "telegram", as the presser.

A webhook request is Telegram's when X-Telegram-Bot-Api-Secret-Token carries a bot's
secret_token (receiver/ack/telegram.py); Telegram retries a request that got no 2xx, so
trouble with Redis answers 503. Each callback query is acted on once: its id is claimed in
Redis first (`Keys.telegram_seen`, SET NX), so a redelivery, or the same update read again
by the poller after a takeover, changes nothing. The presser is always answered
(answerCallbackQuery: "Acknowledged", "Already acknowledged", "This alert has resolved", …);
the message itself is edited by the pipeline (the ack queues an editMessageText job).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from aiohttp import web
from redis.exceptions import RedisError

from receiver.ack.service import AckOutcome, Acks
from receiver.ack.telegram import (
    NOT_ALLOWED,
    REFUSED_NAME,
    UNKNOWN_BUTTON,
    Other,
    Press,
    answer_for,
    match_secret,
    parse_body,
    parse_update,
    press_target,
)
from receiver.api.errors import error
from receiver.api.health import COMPONENTS
from receiver.api.state import SERVICES, STATE
from receiver.metrics import Metrics
from receiver.notifiers.base import load_secret
from receiver.notifiers.telegram.api import BotApi, TelegramError, webhook_secret
from receiver.notifiers.telegram.config import WEBHOOK_PATH, TelegramConfig
from receiver.notifiers.telegram.poller import TelegramUpdates

log = logging.getLogger("receiver.telegram")

MAX_BODY = 256 * 1024  # one Update: a callback query carries its message, a few KiB
HANDLE_WITHIN_S = 5.0
# Telegram keeps an unconfirmed update for 24 hours: a claim outlives that.
CLAIM_TTL_S = 2 * 86400


def telegram_receivers(receivers: Mapping[str, Any]) -> dict[str, TelegramConfig]:
    return {n: c for n, c in receivers.items() if isinstance(c, TelegramConfig)}


class UpdateHandler:
    """Acts on updates for the current config's Telegram receivers."""

    def __init__(self, acks: Acks, receivers: Callable[[], Mapping[str, Any]],
                 session: aiohttp.ClientSession, metrics: Metrics) -> None:  # fmt: skip
        self.acks, self.receivers, self.session, self.metrics = acks, receivers, session, metrics

    def configs(self) -> dict[str, TelegramConfig]:
        return telegram_receivers(self.receivers())

    def webhook_secrets(self) -> dict[str, str]:
        """Receiver name → its bot's secret_token, for receivers whose updates come by
        webhook (and have a button to press)."""
        out = {}
        for name, cfg in self.configs().items():
            if cfg.updates == "webhook" and cfg.ack_button:
                token, problem = load_secret(cfg.token, cfg.token_file)
                if token and not problem:
                    out[name] = webhook_secret(token)
        return out

    async def handle(self, receiver: str, update: Any) -> str:
        """Act on one update that reached `receiver`'s bot; what was done (for the log).
        Raises RedisError / TimeoutError when it could not be recorded (retry it)."""
        item = parse_update(update)
        if item is None:
            return "invalid"
        if isinstance(item, Other):
            if item.callback_id:  # not our button: stop the client's spinner all the same
                await self._answer(receiver, item.callback_id, "")
            return "ignored"
        async with asyncio.timeout(HANDLE_WITHIN_S):
            outcome, text = await self._press(item)
        if outcome == AckOutcome.REPLAYED.value:
            return outcome  # its first copy was answered (a second answer is refused)
        await self._answer(receiver, item.callback_id, text)
        log.info("telegram callback", extra={**_ctx(item), "outcome": outcome})
        return outcome

    async def _press(self, press: Press) -> tuple[str, str]:
        """(what was done, the presser's answer). A refused press writes nothing; an
        accepted one claims its callback id first, so it is acted on once."""
        redis, keys = self.acks.redis, self.acks.keys
        states = await redis.hgetall(keys.delivery(press.fingerprint))
        target = press_target(states, press, set(self.configs()))
        if target is None:
            self._count(AckOutcome.NOT_FOUND)
            log.warning("telegram callback for an unknown button", extra=_ctx(press))
            return "unknown_button", UNKNOWN_BUTTON
        if press.by_error:
            log.warning("telegram callback refused: %s", press.by_error, extra=_ctx(press))
            return "invalid_name", REFUSED_NAME
        cfg = self.configs()[target[0]]
        if not cfg.may_ack(press.user_id, press.username):
            log.warning("telegram callback refused: not in allowed_users", extra=_ctx(press))
            return "not_allowed", NOT_ALLOWED
        claim = keys.telegram_seen(press.callback_id)
        if not await redis.set(claim, "1", nx=True, ex=CLAIM_TTL_S):
            self._count(AckOutcome.REPLAYED)
            log.warning("telegram callback replayed", extra=_ctx(press))
            return AckOutcome.REPLAYED.value, ""
        try:
            result = await self.acks.ack(press.fingerprint, press.by, "telegram",
                                         starts_at=target[1].get("starts_at", ""))  # fmt: skip
        except (RedisError, TimeoutError):
            with contextlib.suppress(RedisError, TimeoutError):
                await redis.delete(claim)  # nothing was done: the same update is no replay
            raise
        return result.outcome.value, answer_for(result.outcome)

    async def _answer(self, receiver: str, callback_id: str, text: str) -> None:
        """answerCallbackQuery with the receiving bot; a failure is logged, never raised
        (the ack is recorded; the presser's client stops waiting by itself)."""
        cfg = self.configs().get(receiver)
        if cfg is None:
            return
        token, problem = load_secret(cfg.token, cfg.token_file)
        if problem:
            return
        body: dict[str, Any] = {"callback_query_id": callback_id}
        if text:
            body["text"] = text
        try:
            await BotApi(self.session, cfg.api_url, token).call("answerCallbackQuery", body,
                                                                cfg.timeout)  # fmt: skip
        except (TelegramError, aiohttp.ClientError, OSError, TimeoutError) as e:
            log.warning("telegram answerCallbackQuery failed: %s", type(e).__name__,
                        extra={"receiver": receiver, "detail": str(e)[:200]})  # fmt: skip

    def _count(self, outcome: AckOutcome) -> None:
        self.metrics.acks.labels("telegram", outcome.value).inc()


def _ctx(p: Press) -> dict[str, Any]:
    return {"fingerprint": p.fingerprint, "by": p.by, "update_id": p.update_id,
            "chat": p.chat}  # fmt: skip


UPDATES = web.AppKey("telegram_updates", UpdateHandler)


def add_routes(app: web.Application) -> None:
    app.router.add_post(WEBHOOK_PATH, telegram_webhook)


def start(app: web.Application, session: aiohttp.ClientSession, replica: str,
          run_loops: bool) -> list[TelegramUpdates]:  # fmt: skip
    """Makes the update handler (the webhook's, the pollers'); with loops, the polling /
    webhook registration loop, which follows reloads and joins /health as `telegram` once
    the config has a Telegram receiver with a button."""
    state, services = app[STATE], app[SERVICES]
    handler = UpdateHandler(services.acks, lambda: state.settings.receivers, session,
                            state.metrics)  # fmt: skip
    app[UPDATES] = handler
    if not run_loops:
        return []
    # The lease holder: this replica, and this app in it (a restart in-process is another).
    me = f"{replica}:{secrets.token_hex(4)}"
    loop = TelegramUpdates(services.redis, services.acks.keys, handler.configs, session,
                           handler.handle, me)  # fmt: skip

    def on_first() -> None:
        app[COMPONENTS].setdefault("telegram", loop)

    loop.on_first = on_first
    return [loop]


async def telegram_webhook(request: web.Request) -> web.Response:
    handler = request.app.get(UPDATES)
    tokens = handler.webhook_secrets() if handler is not None else {}
    if handler is None or not tokens:
        return error(404, "not_configured", "no Telegram receiver takes updates by webhook")
    receiver = match_secret(request.headers.get("X-Telegram-Bot-Api-Secret-Token"), tokens)
    if receiver is None:
        log.warning("telegram webhook refused: secret token missing or wrong")
        return error(401, "bad_secret", "X-Telegram-Bot-Api-Secret-Token missing or wrong")
    if (request.content_length or 0) > MAX_BODY:
        return error(413, "too_large", f"the body is over {MAX_BODY} bytes")
    body = await request.read()
    if len(body) > MAX_BODY:
        return error(413, "too_large", f"the body is over {MAX_BODY} bytes")
    update = parse_body(body)
    if parse_update(update) is None:
        return error(400, "invalid_update", "expected a JSON Update with an update_id")
    try:
        await handler.handle(receiver, update)
    except (RedisError, TimeoutError) as e:
        log.error("telegram update not recorded: %s", type(e).__name__)
        return error(503, "unavailable", "state store unavailable; retry")
    return web.Response(status=200)
