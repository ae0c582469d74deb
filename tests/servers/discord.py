"""A local Discord webhook API: Execute Webhook (with `?wait=true`) and Edit / Get Webhook
Message, checked and answered as Discord documents them.

- https://discord.com/developers/docs/resources/webhook#execute-webhook: a body with
  `content` or `embeds` (at most 10); `?wait=true` answers 200 with the message object,
  without it 204. Unknown webhook id: 404 code 10015; wrong token: 401 code 50027.
- https://discord.com/developers/docs/resources/webhook#edit-webhook-message: PATCH
  …/messages/{id} of a message this webhook posted; unknown: 404 code 10008.
- https://discord.com/developers/docs/resources/message#embed-object-embed-limits: title
  256, description 4096, 25 fields (name 256, value 1024), footer 2048, 6000 in all;
  content 2000. A violation answers 400 code 50035 "Invalid Form Body".
- https://discord.com/developers/docs/topics/rate-limits: X-RateLimit-Limit / -Remaining /
  -Reset / -Reset-After / -Bucket on every answer; a 429 has Retry-After, a JSON body
  with `retry_after` and `global`, and X-RateLimit-Global when global. The bucket here
  (`bucket_limit` requests per `bucket_window` s per webhook) is off unless set; a request
  within a 429's wait is refused again with what is left of it.

For benches: `arrivals` holds (message id, time.monotonic()) per accepted post.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.servers.base import FakeServer

WEBHOOK_ID = "1200000000000000001"
WEBHOOK_TOKEN = "tok-discord-webhook-secret"


@dataclass
class Request:
    method: str
    path: str
    at: float  # time.monotonic()
    body: Any
    status: int = 0
    early: bool = False  # came before the wait the last 429 asked for


@dataclass
class Message:
    id: str
    webhook: str
    body: dict[str, Any]
    edits: list[dict[str, Any]] = field(default_factory=list)  # earlier versions, oldest first

    @property
    def embed(self) -> dict[str, Any]:
        return dict((self.body.get("embeds") or [{}])[0])


def embed_errors(body: Any) -> dict[str, str]:
    """Discord's form-body checks, reduced to what a notifier can run into."""
    if not isinstance(body, dict):
        return {"_": "body must be a JSON object"}
    errs: dict[str, str] = {}
    if len(body.get("content") or "") > 2000:
        errs["content"] = "Must be 2000 or fewer in length."
    embeds = body.get("embeds") or []
    if not isinstance(embeds, list) or len(embeds) > 10:
        return {**errs, "embeds": "Must be 10 or fewer in length."}
    total = 0
    for i, e in enumerate(embeds):
        for key, limit in (("title", 256), ("description", 4096)):
            if len(e.get(key) or "") > limit:
                errs[f"embeds.{i}.{key}"] = f"Must be {limit} or fewer in length."
            total += len(e.get(key) or "")
        footer = (e.get("footer") or {}).get("text") or ""
        total += len(footer)
        if len(footer) > 2048:
            errs[f"embeds.{i}.footer.text"] = "Must be 2048 or fewer in length."
        fields = e.get("fields") or []
        if len(fields) > 25:
            errs[f"embeds.{i}.fields"] = "Must be 25 or fewer in length."
        for j, f in enumerate(fields):
            name, value = f.get("name") or "", f.get("value") or ""
            if not 0 < len(name) <= 256 or not 0 < len(value) <= 1024:
                errs[f"embeds.{i}.fields.{j}"] = "name 1-256 and value 1-1024 in length."
            total += len(name) + len(value)
        color = e.get("color", 0)
        if not isinstance(color, int) or not 0 <= color <= 0xFFFFFF:
            errs[f"embeds.{i}.color"] = "Not a valid color."
    if total > 6000:
        errs["embeds"] = "Embed size exceeds maximum size of 6000"
    return errs


class FakeDiscord(FakeServer):
    def __init__(self, webhooks: dict[str, str] | None = None) -> None:
        super().__init__()
        self.webhooks = webhooks if webhooks is not None else {WEBHOOK_ID: WEBHOOK_TOKEN}
        self.messages: dict[str, Message] = {}
        self.requests: list[Request] = []
        self.arrivals: list[tuple[str, float]] = []
        self.bucket_limit: int | None = None  # requests per window per webhook (None: off)
        self.bucket_window = 2.0
        self._window: dict[str, tuple[float, int]] = {}  # webhook -> (window start, used)
        self._forced: list[tuple[float, bool]] = []  # (retry_after, global) per next request
        self._blocked_until = 0.0
        self._ids = itertools.count(1300000000000000001)

    def webhook_url(self, webhook: str = WEBHOOK_ID) -> str:
        return f"{self.base_url}/api/webhooks/{webhook}/{self.webhooks.get(webhook, 'x')}"

    def rate_limit_next(self, n: int, retry_after: float = 2.5, global_: bool = False) -> None:
        """Answer the next `n` requests with a 429 asking to wait `retry_after` seconds."""
        self._forced += [(retry_after, global_)] * n

    def posts(self) -> list[Request]:
        return [r for r in self.requests if r.method == "POST" and r.status in (200, 204)]

    def edits(self) -> list[Request]:
        return [r for r in self.requests if r.method == "PATCH" and r.status == 200]

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/webhooks/{id}/{token}", self._execute)
        app.router.add_patch("/api/webhooks/{id}/{token}/messages/{mid}", self._edit)
        app.router.add_get("/api/webhooks/{id}/{token}/messages/{mid}", self._get)

    async def _execute(self, request: web.Request) -> web.Response:
        req, refusal = await self._admit(request)
        if refusal is not None:
            return refusal
        wid = request.match_info["id"]
        mid = str(next(self._ids))
        self.messages[mid] = Message(mid, wid, req.body)
        self.arrivals.append((mid, req.at))
        if request.query.get("wait", "").lower() != "true":
            return self._answer(req, 204, None, wid)
        return self._answer(req, 200, self._message_object(self.messages[mid]), wid)

    async def _edit(self, request: web.Request) -> web.Response:
        req, refusal = await self._admit(request)
        if refusal is not None:
            return refusal
        msg = self.messages.get(request.match_info["mid"])
        wid = request.match_info["id"]
        if msg is None or msg.webhook != wid:
            return self._answer(req, 404, {"code": 10008, "message": "Unknown Message"}, wid)
        msg.edits.append(msg.body)
        msg.body = {**msg.body, **req.body}
        return self._answer(req, 200, self._message_object(msg), wid)

    async def _get(self, request: web.Request) -> web.Response:
        req, refusal = await self._admit(request, has_body=False)
        if refusal is not None:
            return refusal
        msg = self.messages.get(request.match_info["mid"])
        if msg is None:
            return self._answer(req, 404, {"code": 10008, "message": "Unknown Message"}, "")
        return self._answer(req, 200, self._message_object(msg), msg.webhook)

    async def _admit(
        self, request: web.Request, has_body: bool = True
    ) -> tuple[Request, web.Response | None]:
        """Record the request (then hold it when asked to); the refusal Discord would
        answer, if any."""
        now = time.monotonic()
        body: Any = None
        if has_body:
            try:
                body = await request.json()
            except ValueError:
                body = None
        req = Request(request.method, request.path, now, body, early=now < self._blocked_until)
        self.requests.append(req)
        await self.hold()
        wid, token = request.match_info["id"], request.match_info["token"]
        if wid not in self.webhooks:
            return req, self._answer(req, 404, {"code": 10015, "message": "Unknown Webhook"}, "")
        if token != self.webhooks[wid]:
            bad = {"code": 50027, "message": "Invalid Webhook Token"}
            return req, self._answer(req, 401, bad, "")
        if limited := self._limited(wid, now):
            return req, limited(req)
        if has_body:
            if request.content_type != "application/json" or body is None:
                bad = {"code": 50109, "message": "The request body contains invalid JSON."}
                return req, self._answer(req, 400, bad, wid)
            errs = embed_errors(body)
            if request.method == "POST" and not body.get("content") and not body.get("embeds"):
                errs["_"] = "Cannot send an empty message"
            if errs:
                bad = {"code": 50035, "message": "Invalid Form Body", "errors": errs}
                return req, self._answer(req, 400, bad, wid)
        return req, None

    def _limited(self, wid: str, now: float) -> Any:
        """A 429 answer maker when this request is over a limit, else None."""
        if self._forced:
            wait, global_ = self._forced.pop(0)
            return lambda req: self._too_many(req, wait, global_, wid)
        if now < self._blocked_until:  # still within a 429's wait: refused again
            return lambda req: self._too_many(req, self._blocked_until - now, False, wid)
        if self.bucket_limit is None:
            return None
        start, used = self._window.get(wid, (now, 0))
        if now - start >= self.bucket_window:
            start, used = now, 0
        if used >= self.bucket_limit:
            wait = self.bucket_window - (now - start)
            return lambda req: self._too_many(req, wait, False, wid)
        self._window[wid] = (start, used + 1)
        return None

    def _too_many(self, req: Request, wait: float, global_: bool, wid: str) -> web.Response:
        self._blocked_until = max(self._blocked_until, req.at + wait)
        body = {"message": "You are being rate limited.", "retry_after": round(wait, 3),
                "global": global_}  # fmt: skip
        headers = {"Retry-After": str(math.ceil(wait)), "X-RateLimit-Scope": "shared"}
        if global_:
            headers["X-RateLimit-Global"] = "true"
        return self._answer(req, 429, body, wid, headers)

    def _answer(self, req: Request, status: int, body: Any, wid: str,
                extra: dict[str, str] | None = None) -> web.Response:  # fmt: skip
        req.status = status
        headers = dict(extra or {})
        if wid and self.bucket_limit is not None:
            start, used = self._window.get(wid, (req.at, 0))
            reset_after = max(0.0, self.bucket_window - (req.at - start))
            headers.setdefault("X-RateLimit-Reset-After", f"{reset_after:.3f}")
            headers.update({
                "X-RateLimit-Limit": str(self.bucket_limit),
                "X-RateLimit-Remaining": str(max(0, self.bucket_limit - used)),
                "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
                "X-RateLimit-Bucket": f"webhook-{wid}",
            })  # fmt: skip
        if body is None:
            return web.Response(status=status, headers=headers)
        return web.json_response(body, status=status, headers=headers)

    @staticmethod
    def _message_object(msg: Message) -> dict[str, Any]:
        return {"id": msg.id, "type": 0, "channel_id": "1100000000000000001",
                "webhook_id": msg.webhook, "content": msg.body.get("content", ""),
                "embeds": msg.body.get("embeds", [])}  # fmt: skip
