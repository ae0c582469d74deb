"""Mattermost: one post per alert episode, created once (POST /api/v4/posts) and edited
in place (PUT /api/v4/posts/{id}/patch) on repeat, ack, unack and resolve.

The post's ID goes into the delivery state with the episode's `startsAt`; a later job of
the same episode edits it, a new episode posts anew. A job whose earlier attempt may have
posted looks for that post first (lookup.py). Errors are JSON with an HTTP status
(https://api.mattermost.com/#tag/errors): 429 is rate limited (Retry-After /
X-Ratelimit-Reset), 5xx retried, 401/403/404 a config problem (token, channel, the bot not
in the channel), other 4xx permanent.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import TypeVar

import aiohttp

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
    parse_retry_after,
    snippet,
)
from receiver.notifiers.mattermost.api import MattermostApi, MattermostApiError, retry_hint
from receiver.notifiers.mattermost.config import MattermostConfig
from receiver.notifiers.mattermost.lookup import NOT_SURE, PostLookup
from receiver.notifiers.mattermost.message import Button, build_post, escalation_reply
from receiver.notifiers.mattermost.token import sign
from receiver.notifiers.render import Renderer

T = TypeVar("T")
log = logging.getLogger("receiver.notifiers.mattermost")


def classify_mattermost_error(e: MattermostApiError) -> DeliveryResult:
    status = e.status
    detail = snippet(f"mattermost: HTTP {status} {e.error} {e.message or e.data}".rstrip())
    if status == 429:
        hint = retry_hint(e.headers)
        return DeliveryResult(Outcome.RATE_LIMITED, True, detail, retry_after_s=hint)
    if status >= 500:
        after = parse_retry_after(e.headers.get("Retry-After"))
        return DeliveryResult(Outcome.SERVER_ERROR, True, detail, retry_after_s=after)
    if status in (401, 403, 404):
        return invalid_config(detail)
    return client_error(detail)


def pending_post_id(key: str) -> str:
    """A post-ID-shaped (26 characters of base32) value derived from the job key: the
    same job sends the same one on every attempt."""
    digest = hashlib.sha256(key.encode()).digest()
    return base64.b32encode(digest).decode().lower()[:26]


class MattermostNotifier(NotifierBase[MattermostConfig]):
    def __init__(
        self,
        name: str,
        cfg: MattermostConfig,
        session: aiohttp.ClientSession,
        renderer: Renderer,
    ) -> None:
        super().__init__(name, cfg, session, renderer)
        token, self._config_error = load_secret(cfg.token, cfg.token_file)
        # One bound for a whole send, lookups and edits included.
        self._deadline = cfg.timeout * 3
        self._api = MattermostApi(session, cfg.url, token, cfg.timeout)
        self._lookup = PostLookup(self._api, cfg.channel_id, self._timed)
        self._secret = ""
        if cfg.actions is not None:
            try:
                self._secret = cfg.actions.secrets()[0]
            except ValueError as e:  # posts go out without the button rather than not at all
                log.error("mattermost %s: Acknowledge button disabled: %s", name, e)

    def button(self, n: Notification) -> Button | None:
        """The Acknowledge button for `n`'s episode, when the receiver has `actions`."""
        if self.cfg.actions is None or not self._secret:
            return None
        token = sign(self.name, n.alert.fingerprint, n.alert.startsAt, self._secret)
        return Button(self.cfg.actions.url, token)

    async def send(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        if n.reason in (Reason.ACKNOWLEDGED, Reason.UNACKNOWLEDGED):
            return await self.acknowledge(n, state)
        return await self._guard(lambda: self._send(n, state))

    async def acknowledge(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        """An ack (or unack) job: edit the episode's post ("acknowledged by X", no button;
        or the firing post with it again). No post of this episode: nothing to edit."""
        if not state.get("post_id"):
            return ok("mattermost: no post to edit", dict(state))
        if state.get("starts_at", n.alert.startsAt) != n.alert.startsAt:
            return ok("mattermost: the post is of another episode", dict(state))
        by = ""
        if n.reason is Reason.ACKNOWLEDGED and n.ack is not None:
            by = n.ack.by or "someone"

        async def edit() -> DeliveryResult:
            try:
                return await self._patch(n, state["post_id"], dict(state), by)
            except MattermostApiError as e:
                if not _post_gone(e):
                    raise
                return ok(f"mattermost: the post cannot be edited ({e.error})", dict(state))

        return await self._guard(edit)

    async def _guard(self, call: Callable[[], Awaitable[DeliveryResult]]) -> DeliveryResult:
        """Never raise: config problems, API errors and network trouble become results."""
        if self._config_error:
            return invalid_config(f"mattermost: {self._config_error}")
        try:
            return await call()
        except MattermostApiError as e:
            return classify_mattermost_error(e)
        except Exception as e:
            return classify_exception(e, "mattermost")

    async def _timed(self, aw: Awaitable[T]) -> T:
        async with asyncio.timeout(self._deadline):
            return await aw

    def _state(self, n: Notification, post_id: str) -> dict[str, str]:
        if n.summary_total > 0:  # a storm summary stands for many alerts: no state
            return {}
        return {"post_id": post_id, "channel_id": self.cfg.channel_id,
                "starts_at": n.alert.startsAt}  # fmt: skip

    async def _send(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        storm = n.summary_total > 0
        if not storm and _updatable(n, state):
            try:
                edited = await self._patch(n, state["post_id"], dict(state))
            except MattermostApiError as e:
                if not _post_gone(e):  # deleted, or past the edit time limit: post anew
                    raise
            else:
                if n.reason is Reason.ESCALATED:
                    await self._reply(n, state["post_id"])
                return edited
        if state.get(UNCERTAIN):
            found = await self._posted_earlier(n)
            if isinstance(found, DeliveryResult):
                return found  # the lookup failed for now: retried like a failed post
            if found is not None:
                kept = self._state(n, found)
                if n.reason is Reason.NEW or storm:
                    return ok(f"mattermost: already posted {found} (found by its props)", kept)
                return await self._patch(n, found, kept)  # a resolve/repeat edits it
        message, props = build_post(n, self._renderer, self.button(n))
        resp = await self._timed(self._api.create_post({
            "channel_id": self.cfg.channel_id, "message": message, "props": props,
            "pending_post_id": pending_post_id(n.key),
        }))  # fmt: skip
        post_id = str(resp.get("id", ""))
        return ok(f"mattermost: posted {post_id}", self._state(n, post_id))

    async def _patch(
        self, n: Notification, post_id: str, state: dict[str, str], acked_by: str = ""
    ) -> DeliveryResult:
        message, props = build_post(n, self._renderer, self.button(n), acked_by)
        await self._timed(self._api.patch_post(post_id, {"message": message, "props": props}))
        return ok(f"mattermost: edited {post_id}", state)

    async def _reply(self, n: Notification, root_id: str) -> None:
        await self._timed(self._api.create_post({
            "channel_id": self.cfg.channel_id, "root_id": root_id,
            "message": escalation_reply(n), "pending_post_id": pending_post_id(n.key + "/reply"),
        }))  # fmt: skip

    async def _posted_earlier(self, n: Notification) -> str | DeliveryResult | None:
        """The ID of the post an earlier attempt made; None when there is none or it
        cannot be known (then posting is right); a retryable result when Mattermost
        could not answer now (the job is retried, nothing posted)."""
        try:
            found = await self._lookup.find(n)
        except MattermostApiError as e:
            failed = classify_mattermost_error(e)
        except Exception as e:
            failed = classify_exception(e, "mattermost")
        else:
            if found == NOT_SURE:
                log.warning("mattermost: cannot tell whether an earlier attempt posted, posting",
                            extra={"destination": self.name, "key": n.key})  # fmt: skip
                return None
            return found
        if failed.retryable:
            return replace(failed, detail=f"looking for an earlier post: {failed.detail}")
        log.warning(
            "mattermost: cannot look for an earlier post, posting (a duplicate is possible)",
            extra={"destination": self.name, "key": n.key, "detail": failed.detail},
        )
        return None


def _post_gone(e: MattermostApiError) -> bool:
    """The post cannot be edited any more: deleted (404), or older than the server's
    PostEditTimeLimit (api.post.update_post.permissions_time_limit.app_error)."""
    return e.status == 404 or "time_limit" in e.error


def _updatable(n: Notification, state: Mapping[str, str]) -> bool:
    """Edit the earlier post when it is about the same episode (same startsAt)."""
    if not state.get("post_id"):
        return False
    if "starts_at" in state:
        return state["starts_at"] == n.alert.startsAt
    return n.reason is not Reason.NEW
