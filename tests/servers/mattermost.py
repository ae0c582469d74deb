"""A local Mattermost server: REST API v4 posts (create, patch, a channel's posts) and the
interactive-message button flow (the server posting a click to the action's URL).

It checks what Mattermost checks and answers the way it does (https://api.mattermost.com/):
- `Authorization: Bearer <token>` on every call: 401 `api.context.session_expired.app_error`;
- `POST /api/v4/posts`: `channel_id` of a channel the bot is in (403
  `api.context.permissions.app_error` otherwise), `message` at most 16,383 characters and
  props at most 800,000 (400 `model.post.is_valid.*`), attachment actions with an `id` of
  letters and digits, a `name` and an `integration.url`
  (https://developers.mattermost.com/integrate/plugins/interactive-messages/); 201 with
  the post. The same `pending_post_id` within 30 s answers the first post again
  (mattermost/mattermost#10006);
- `PUT /api/v4/posts/{id}/patch`: 404 `app.post.get.app_error` for an unknown or deleted
  post; 200 with the post;
- `GET /api/v4/channels/{id}/posts?page=&per_page=`: newest first, at most 200 a page,
  `order` + `posts`, actions' `integration` stripped as for any client;
- rate limiting as the server's throttle does: 429 with X-Ratelimit-Limit/-Remaining/
  -Reset (seconds until reset) and Retry-After (https://api.mattermost.com/#tag/rate-limiting,
  https://docs.mattermost.com/configure/rate-limiting-configuration-settings.html).

`press()` clicks a post's button the way the server does: it POSTs the action request
(user_id, user_name, channel_id, team_id, post_id, trigger_id, type, context as posted)
to the action's URL, unsigned (Mattermost does not sign them), and applies an `update` in
the answer to the post. For the bench: `arrivals` lists (post id, time.monotonic()) per
post created.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.servers.base import FakeServer

MAX_MESSAGE = 16383
MAX_PROPS = 800_000
PENDING_WINDOW_S = 30.0
ACTION_ID = re.compile(r"[A-Za-z0-9]+")
TOKEN = "mm-bot-token-0123456789"
CHANNEL = "4xp9fdt77pncbef59f4k1qe83o"
TEAM = "ot1kmam7a7dy8yeg1cd5n3ar4h"


def new_id() -> str:
    return "".join(secrets.choice("abcdefghijkmnopqrstuwxyz13456789") for _ in range(26))


@dataclass
class Request:
    method: str
    path: str
    at: float  # time.monotonic() of arrival
    body: Any
    status: int = 0


@dataclass
class Post:
    id: str
    channel_id: str
    message: str
    props: dict[str, Any]
    create_at: int
    pending_post_id: str = ""
    update_at: int = 0
    root_id: str = ""  # a reply: the thread's first post
    history: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # earlier versions

    def json(self, strip: bool = False) -> dict[str, Any]:
        props = copy.deepcopy(self.props)
        if strip:
            for a in props.get("attachments") or []:
                for action in a.get("actions") or []:
                    action.pop("integration", None)
        return {"id": self.id, "channel_id": self.channel_id, "message": self.message,
                "props": props, "create_at": self.create_at, "update_at": self.update_at,
                "edit_at": self.update_at if self.history else 0, "delete_at": 0,
                "user_id": "bot", "type": "", "pending_post_id": self.pending_post_id,
                "root_id": self.root_id}  # fmt: skip

    @property
    def attachment(self) -> dict[str, Any]:
        return dict((self.props.get("attachments") or [{}])[0])

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return list(self.attachment.get("actions") or [])


def _err(status: int, error_id: str, message: str) -> web.Response:
    return web.json_response({"id": error_id, "message": message, "detailed_error": "",
                              "request_id": new_id(), "status_code": status},
                             status=status)  # fmt: skip


def post_errors(body: Any) -> tuple[int, str, str] | None:
    """The create-post checks a notifier can run into, as (status, id, message)."""
    if not isinstance(body, dict):
        return 400, "api.context.invalid_body_param.app_error", "Invalid or missing post"
    if len(str(body.get("message", ""))) > MAX_MESSAGE:
        return 400, "model.post.is_valid.message_length.app_error", "Invalid Message"
    props = body.get("props") or {}
    if not isinstance(props, dict) or len(json.dumps(props)) > MAX_PROPS:
        return 400, "model.post.is_valid.props.app_error", "Invalid Props"
    for a in props.get("attachments") or []:
        for action in a.get("actions") or [] if isinstance(a, dict) else []:
            integration = action.get("integration") if isinstance(action, dict) else None
            if (
                not isinstance(action, dict)
                or not ACTION_ID.fullmatch(str(action.get("id")))
                or not action.get("name")
                or not isinstance(integration, dict)
                or not str(integration.get("url", "")).startswith(("http://", "https://"))
            ):
                return 400, "model.post.is_valid.props.app_error", "Invalid action"  # fmt: skip
    return None


class FakeMattermost(FakeServer):
    def __init__(self, tokens: set[str] | None = None, channels: set[str] | None = None) -> None:
        super().__init__()
        self.tokens = tokens if tokens is not None else {TOKEN}
        self.channels = channels if channels is not None else {CHANNEL}
        self.posts: dict[str, Post] = {}
        self.requests: list[Request] = []
        self.arrivals: list[tuple[str, float]] = []  # (post id, time.monotonic()) per create
        self.presses: list[dict[str, Any]] = []  # the action requests press() sent
        self._rate_limit: list[tuple[int, bool]] = []
        self._fail: list[int] = []
        self._pending: dict[str, tuple[str, float]] = {}
        self.edit_time_limit_s: float | None = None  # None: edits allowed forever (default)
        self._clock = 0

    def rate_limit_next(self, n: int, reset_s: int = 1, retry_after: bool = True) -> None:
        """Answer the next `n` calls 429; with `retry_after=False` only X-Ratelimit-Reset."""
        self._rate_limit.extend([(reset_s, retry_after)] * n)

    def fail_next(self, n: int, status: int = 500) -> None:
        self._fail.extend([status] * n)

    def calls(self, method: str, suffix: str = "") -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path.endswith(suffix)]

    def in_channel(self, channel: str = CHANNEL) -> list[Post]:
        return [p for p in self.posts.values() if p.channel_id == channel]

    def top_level(self) -> list[Post]:
        return [p for p in self.posts.values() if not p.root_id]

    def replies(self, root_id: str) -> list[Post]:
        return [p for p in self.posts.values() if p.root_id == root_id]

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v4/posts", self._create)
        app.router.add_put("/api/v4/posts/{id}/patch", self._patch)
        app.router.add_get("/api/v4/channels/{id}/posts", self._list)

    async def _gate(self, request: web.Request, body: Any) -> web.Response | Request:
        req = Request(request.method, request.path, time.monotonic(), body)
        self.requests.append(req)
        await self.hold()
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self.tokens:
            req.status = 401
            return _err(401, "api.context.session_expired.app_error",
                        "Invalid or expired session, please login again.")  # fmt: skip
        if self._rate_limit:
            req.status = 429
            reset, with_retry = self._rate_limit.pop(0)
            headers = {"X-Ratelimit-Limit": "10", "X-Ratelimit-Remaining": "0",
                       "X-Ratelimit-Reset": str(reset)}  # fmt: skip
            if with_retry:
                headers["Retry-After"] = str(reset)
            return web.Response(status=429, text="limit exceeded\n", headers=headers)
        if self._fail:
            req.status = self._fail.pop(0)
            return _err(req.status, "app.post.save.app_error", "Unable to save the post.")
        return req

    async def _json(self, request: web.Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            return None

    def _now_ms(self) -> int:
        self._clock = max(self._clock + 1, int(time.time() * 1000))  # strictly increasing
        return self._clock

    async def _create(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        gate = await self._gate(request, body)
        if isinstance(gate, web.Response):
            return gate
        problem = post_errors(body)
        if problem is None and body.get("channel_id") not in self.channels:
            problem = (403, "api.context.permissions.app_error",
                       "You do not have the appropriate permissions.")  # fmt: skip
        root = str(body.get("root_id") or "") if problem is None else ""
        if root and (root not in self.posts or self.posts[root].channel_id != body["channel_id"]):
            problem = (400, "api.post.create_post.root_id.app_error", "Invalid RootId parameter.")
        if problem is not None:
            gate.status = problem[0]
            return _err(*problem)
        pending = str(body.get("pending_post_id") or "")
        seen = self._pending.get(pending) if pending else None
        if seen is not None and time.monotonic() - seen[1] < PENDING_WINDOW_S:
            gate.status = 201
            return web.json_response(self.posts[seen[0]].json(), status=201)
        post = Post(new_id(), body["channel_id"], str(body.get("message", "")),
                    dict(body.get("props") or {}), self._now_ms(), pending)  # fmt: skip
        post.update_at, post.root_id = post.create_at, root
        self.posts[post.id] = post
        self.arrivals.append((post.id, time.monotonic()))
        if pending:
            self._pending[pending] = (post.id, time.monotonic())
        gate.status = 201
        return web.json_response(post.json(), status=201)

    async def _patch(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        gate = await self._gate(request, body)
        if isinstance(gate, web.Response):
            return gate
        post = self.posts.get(request.match_info["id"])
        if post is None:
            gate.status = 404
            return _err(404, "app.post.get.app_error", "Unable to get the post.")
        if self.edit_time_limit_s is not None and (
            self._now_ms() - post.create_at > self.edit_time_limit_s * 1000
        ):  # ServiceSettings.PostEditTimeLimit
            gate.status = 403
            return _err(403, "api.post.update_post.permissions_time_limit.app_error",
                        "Post edit is only allowed for a limited time.")  # fmt: skip
        problem = post_errors({**post.json(), **(body if isinstance(body, dict) else {})})
        if problem is not None:
            gate.status = problem[0]
            return _err(*problem)
        self._apply(post, body)
        gate.status = 200
        return web.json_response(post.json())

    def _apply(self, post: Post, change: dict[str, Any]) -> None:
        post.history.append((post.message, copy.deepcopy(post.props)))
        if "message" in change:
            post.message = str(change["message"])
        if "props" in change:
            post.props = dict(change["props"] or {})
        post.update_at = self._now_ms()

    async def _list(self, request: web.Request) -> web.Response:
        gate = await self._gate(request, dict(request.query))
        if isinstance(gate, web.Response):
            return gate
        channel = request.match_info["id"]
        if channel not in self.channels:
            gate.status = 403
            return _err(403, "api.context.permissions.app_error",
                        "You do not have the appropriate permissions.")  # fmt: skip
        page = int(request.query.get("page") or 0)
        per_page = min(200, int(request.query.get("per_page") or 60))
        found = sorted(self.in_channel(channel), key=lambda p: p.create_at, reverse=True)
        chunk = found[page * per_page : (page + 1) * per_page]
        gate.status = 200
        return web.json_response({"order": [p.id for p in chunk],
                                  "posts": {p.id: p.json(strip=True) for p in chunk},
                                  "next_post_id": "", "prev_post_id": ""})  # fmt: skip

    async def press(
        self,
        post_id: str,
        session: aiohttp.ClientSession,
        user_name: str = "alice",
        user_id: str = "u1ce8kxkwtbhdcfbqa9h6nzxzr",
        context: dict[str, Any] | None = None,
    ) -> tuple[int, Any]:
        """Click the post's Acknowledge button as the Mattermost server relays it: (HTTP
        status, JSON answer). `context` replaces the posted one (a forged click). A post
        whose button is gone is clicked as it was shown before (a client not yet updated)."""
        post = self.posts[post_id]
        # A click on a button the post no longer has: one still on someone's screen.
        shown = [post.buttons] + [
            list((props.get("attachments") or [{}])[0].get("actions") or [])
            for _, props in reversed(post.history)
        ]
        (action,) = next(b for b in shown if b)
        integration = action["integration"]
        sent = context if context is not None else integration["context"]
        request = {"user_id": user_id, "user_name": user_name, "channel_id": post.channel_id,
                   "channel_name": "alerts", "team_id": TEAM, "team_name": "ops",
                   "post_id": post.id, "trigger_id": new_id(), "type": "", "data_source": "",
                   "context": sent}  # fmt: skip
        self.presses.append(request)
        async with session.post(integration["url"], json=request) as resp:
            status = resp.status
            try:
                answer = await resp.json(content_type=None)
            except ValueError:
                answer = None
        if status == 200 and isinstance(answer, dict) and isinstance(answer.get("update"), dict):
            self._apply(post, answer["update"])
        return status, answer
