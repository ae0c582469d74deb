"""The bot's updates by long polling (getUpdates), from ONE replica at a time per bot, and
the webhook's registration (setWebhook) for bots whose updates come by webhook.

`TelegramUpdates` is the background loop (on /health as `telegram`): each step it reads the
current receivers (a reload applies) and keeps one `BotPoller` running per polling bot and
each webhook bot registered. A poller holds a lease in Redis (`Keys.telegram_lease`, SET NX
with a TTL longer than one long poll, renewed every round); only the holder calls
getUpdates, since Telegram answers 409 Conflict to a second concurrent caller. The update
offset (`Keys.telegram_offset`) is written after each handled update in a transaction that
checks the lease (WATCH), so a takeover starts where the last holder stopped: nothing lost
(an update is confirmed to Telegram only by a later getUpdates with a higher offset) and
nothing handled twice (an update handled but not yet committed is read again, and its
callback id claim makes it a no-op; receiver/api/telegram_webhook.py).
https://core.telegram.org/bots/api#getupdates, #setwebhook, #deletewebhook.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from redis.exceptions import RedisError, WatchError

from receiver.notifiers.base import load_secret
from receiver.notifiers.telegram.api import BotApi, TelegramError, bot_id, webhook_secret
from receiver.notifiers.telegram.config import TelegramConfig
from receiver.store.keys import Keys

log = logging.getLogger("receiver.notifiers.telegram.poller")

LEASE_MARGIN_S = 5.0  # the lease outlives one long poll by this much
HTTP_MARGIN_S = 3.0  # a long poll's HTTP timeout: poll_timeout plus this
ERROR_WAIT_S = 2.0
REGISTER_RETRY_S = 10.0  # a failed setWebhook is tried again after this
# (receiver name, Update) → handled; raises RedisError / TimeoutError to be retried.
Handle = Callable[[str, Any], Awaitable[object]]


def bots(
    receivers: Mapping[str, TelegramConfig], conflicts: list[str] | None = None
) -> dict[str, tuple[str, TelegramConfig, str]]:
    """Bot id → (first receiver name, its config, token) of the receivers whose Acknowledge
    button needs updates; receivers sharing a bot share its updates, so they must agree on
    how they come (else the first receiver's way is used, and `conflicts` says so)."""
    out: dict[str, tuple[str, TelegramConfig, str]] = {}
    for name, cfg in sorted(receivers.items()):
        if not cfg.ack_button:
            continue
        token, error = load_secret(cfg.token, cfg.token_file)
        if not token or error:
            continue
        first = out.setdefault(bot_id(token), (name, cfg, token))
        if _updates(first[1]) != _updates(cfg) and conflicts is not None:
            conflicts.append(f"receivers {first[0]} and {name} share a bot but not `updates`"
                             " / webhook_base_url")  # fmt: skip
    return out


def _updates(cfg: TelegramConfig) -> tuple[str, str, str]:
    return cfg.updates, cfg.webhook_url, cfg.api_url


class Lease:
    """One bot's polling lease in Redis, held by `me`."""

    def __init__(self, redis: Any, keys: Keys, bot: str, me: str, ttl_s: float) -> None:
        self.redis, self.me, self.ttl_ms = redis, me, int(ttl_s * 1000)
        self.key, self.offset_key = keys.telegram_lease(bot), keys.telegram_offset(bot)

    async def hold(self) -> bool:
        """Take the lease if free, renew it if ours; False when another replica holds it."""
        if await self.redis.set(self.key, self.me, nx=True, px=self.ttl_ms):
            return True
        return await self._fenced(None)

    async def commit(self, offset: int) -> bool:
        """Store the next offset and renew, only while the lease is ours."""
        return await self._fenced(offset)

    async def offset(self) -> int:
        raw = await self.redis.get(self.offset_key)
        return int(raw) if raw else 0

    async def release(self) -> None:
        with contextlib.suppress(RedisError, WatchError):
            await self._fenced(None, delete=True)

    async def _fenced(self, offset: int | None, delete: bool = False) -> bool:
        async with self.redis.pipeline(transaction=True) as pipe:
            await pipe.watch(self.key)
            holder = await pipe.get(self.key)
            if holder != self.me:
                await pipe.unwatch()
                return False
            pipe.multi()
            if offset is not None:
                pipe.set(self.offset_key, offset)
            if delete:
                pipe.delete(self.key)
            else:
                pipe.pexpire(self.key, self.ttl_ms)
            try:
                await pipe.execute()
            except WatchError:
                return False
        return True


class BotPoller:
    """Long-polls one bot's updates while holding its lease; hands each to `handle`."""

    def __init__(self, redis: Any, keys: Keys, bot: str, name: str, cfg: TelegramConfig,
                 api: BotApi, handle: Handle, me: str) -> None:  # fmt: skip
        self.bot, self.name, self.cfg, self.api, self.handle = bot, name, cfg, api, handle
        self.lease = Lease(redis, keys, bot, me, cfg.poll_timeout + LEASE_MARGIN_S)
        self.status: str = "starting"
        self.error: str | None = None
        self.holding = False
        self._webhook_removed = False

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                wait = await self._round_safely(stop)
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), wait)
        finally:
            if self.holding:
                await self.lease.release()  # a clean stop hands over at once

    async def _round_safely(self, stop: asyncio.Event) -> float:
        try:
            wait = await self.round(stop)
            self.status, self.error = "ok", None
            return wait
        except RedisError as e:
            self.status, self.error = "down", type(e).__name__
            log.warning("telegram updates: redis unavailable", extra={"bot": self.bot})
        except (OSError, aiohttp.ClientError, TimeoutError) as e:
            # Telegram unreachable: the vendor's trouble, not this replica's (not on /health).
            self.status, self.error = "vendor", type(e).__name__
            log.warning("telegram updates: %s", type(e).__name__, extra={"bot": self.bot})
        except TelegramError as e:
            self.status, self.error = "vendor", f"telegram {e.code}"
            log.warning("telegram getUpdates refused: %s", e, extra={"bot": self.bot})
            if e.code == 409 and "webhook" in e.description:
                self._webhook_removed = False  # someone set one since: remove it again
            if e.retry_after is not None:
                return max(ERROR_WAIT_S, e.retry_after)
        except Exception:  # a bug must not stop the loop for good
            self.status, self.error = "error", "unexpected"
            log.exception("telegram updates: unexpected error", extra={"bot": self.bot})
        self.holding = False
        return ERROR_WAIT_S

    async def round(self, stop: asyncio.Event) -> float:
        """One long poll and its updates; the seconds to wait before the next round."""
        self.holding = await self.lease.hold()
        if not self.holding:
            return self.lease.ttl_ms / 3000  # look again well before a dead holder's TTL ends
        if not self._webhook_removed:  # getUpdates answers 409 while a webhook is set
            await self.api.call("deleteWebhook", {"drop_pending_updates": False},
                                self.cfg.timeout)  # fmt: skip
            self._webhook_removed = True
        offset = await self.lease.offset()
        body = {"offset": offset, "timeout": int(self.cfg.poll_timeout), "limit": 100,
                "allowed_updates": ["callback_query"]}  # fmt: skip
        call = self.api.call("getUpdates", body, self.cfg.poll_timeout + HTTP_MARGIN_S)
        updates = await _unless_stopped(call, stop)
        for u in updates if isinstance(updates, list) else []:
            uid = u.get("update_id") if isinstance(u, dict) else None
            if type(uid) is not int:
                continue
            try:
                await self.handle(self.name, u)
            except (RedisError, TimeoutError):
                raise  # not recorded: read again next round (its claim was released)
            except Exception:  # a bug: skipped, so that one update cannot block the rest
                log.exception("telegram update not handled", extra={"bot": self.bot,
                                                                    "update_id": uid})  # fmt: skip
            if not await self.lease.commit(uid + 1):
                self.holding = False
                log.warning("telegram updates: lease lost", extra={"bot": self.bot})
                break
        return 0.0


async def _unless_stopped(aw: Awaitable[Any], stop: asyncio.Event) -> Any:
    """`aw`'s result, or [] once `stop` is set first (the call is cancelled)."""
    task = asyncio.ensure_future(aw)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return []
    return task.result()


class TelegramUpdates:
    """Keeps the pollers and webhook registrations matching the current receivers; on
    /health as `telegram` (a failing poller or registration: `down` / `error`)."""

    interval_s = 1.0

    def __init__(self, redis: Any, keys: Keys,
                 receivers: Callable[[], Mapping[str, TelegramConfig]],
                 session: aiohttp.ClientSession, handle: Handle, me: str,
                 on_first: Callable[[], None] = lambda: None) -> None:  # fmt: skip
        self.on_first = on_first  # called once there is a Telegram bot to serve (/health)
        self.redis, self.keys, self.receivers = redis, keys, receivers
        self.session, self.handle, self.me = session, handle, me
        self.pollers: dict[str, tuple[BotPoller, asyncio.Event, asyncio.Task[None]]] = {}
        self.registered: dict[str, tuple[str, str]] = {}  # bot → (url, secret) set
        self._retry_at: dict[str, float] = {}  # bot → when to try setWebhook again
        self._retiring: set[asyncio.Task[None]] = set()
        self.status: str = "starting"
        self.error: str | None = None

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    problems = await self.step()
                except Exception:  # a bug must not stop the loop for good
                    log.exception("telegram: unexpected error, continuing")
                    problems = ["unexpected"]
                self.status = "ok" if not problems else "error"
                self.error = "; ".join(problems) or None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.interval_s)
        finally:
            for _, child_stop, _ in self.pollers.values():
                child_stop.set()
            tasks = [t for _, _, t in self.pollers.values()] + list(self._retiring)
            await asyncio.gather(*tasks, return_exceptions=True)

    async def step(self) -> list[str]:
        """Start and stop pollers, set webhooks; what is failing now."""
        problems: list[str] = []
        wanted = bots(self.receivers(), problems)
        if wanted:
            self.on_first()
        polling = {b: v for b, v in wanted.items() if v[1].updates == "polling"}
        for bot in list(self.pollers):
            if bot not in polling or polling[bot][1] != self.pollers[bot][0].cfg:
                _, child_stop, task = self.pollers.pop(bot)
                child_stop.set()  # it releases its lease as it ends
                self._retiring.add(task)
                task.add_done_callback(self._retiring.discard)
        for bot, (name, cfg, token) in polling.items():
            if bot not in self.pollers:
                api = BotApi(self.session, cfg.api_url, token)
                poller = BotPoller(self.redis, self.keys, bot, name, cfg, api, self.handle,
                                   self.me)  # fmt: skip
                child_stop = asyncio.Event()
                task = asyncio.create_task(poller.run(child_stop))
                self.pollers[bot] = (poller, child_stop, task)
        problems += [
            await self._register(b, cfg, token)
            for b, (_, cfg, token) in wanted.items()
            if cfg.updates == "webhook"
        ]
        # Redis trouble or a bug is this replica's; Telegram's trouble is logged only.
        problems += [f"{p.bot}: {p.error}" for p, _, _ in self.pollers.values()
                     if p.status in ("down", "error")]  # fmt: skip
        return [p for p in problems if p]

    async def _register(self, bot: str, cfg: TelegramConfig, token: str) -> str:
        """setWebhook once per (url, secret) and process: every replica sets the same."""
        want = (cfg.webhook_url, webhook_secret(token))
        if self.registered.get(bot) == want or time.monotonic() < self._retry_at.get(bot, 0.0):
            return ""
        api = BotApi(self.session, cfg.api_url, token)
        try:
            await api.call("setWebhook", {"url": want[0], "secret_token": want[1],
                                          "allowed_updates": ["callback_query"]},
                           cfg.timeout)  # fmt: skip
        except (TelegramError, aiohttp.ClientError, OSError, TimeoutError) as e:
            log.error("telegram setWebhook failed, retrying: %s", e, extra={"bot": bot})
            self._retry_at[bot] = time.monotonic() + REGISTER_RETRY_S
            return ""  # Telegram's trouble (or a revoked token): logged, tried each second
        self.registered[bot] = want
        log.info("telegram webhook set", extra={"bot": bot, "url": want[0]})
        return ""
