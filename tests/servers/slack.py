"""A local Slack Web API (chat.postMessage, chat.update, conversations.history and .list) and
incoming-webhook endpoint.

It checks what Slack checks and answers the way Slack does: HTTP 200 with
{"ok": false, "error": ...} for API errors (https://api.slack.com/methods/chat.postMessage#errors),
HTTP 429 + Retry-After when rate limited, plain-text errors for incoming webhooks
(https://api.slack.com/messaging/webhooks#handling_errors), Block Kit limits
(https://api.slack.com/reference/block-kit/blocks). Messages keep the `metadata` they were
posted with (https://api.slack.com/metadata) and conversations.history returns it only with
`include_all_metadata`, newest first, paged by cursor, channel IDs only
(https://api.slack.com/methods/conversations.history). A bot posting to a user ID (one of
`users`) posts in its direct-message channel with that user, answered with that channel's
D… ID (https://api.slack.com/methods/chat.postMessage#app_home).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.servers.base import FakeServer

BLOCK_TYPES = {"header", "section", "actions", "context", "divider", "image", "rich_text"}


@dataclass
class Request:
    path: str
    at: float  # time.monotonic() of arrival
    body: dict[str, Any]
    status: int = 0
    error: str = ""


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # earlier versions
    metadata: dict[str, Any] | None = None


def block_errors(blocks: Any) -> list[str]:
    """Block Kit validation, reduced to the limits a notifier can run into."""
    if not isinstance(blocks, list):
        return ["blocks must be an array"]
    errs: list[str] = []
    if len(blocks) > 50:
        errs.append(f"too many blocks: {len(blocks)} > 50")
    for i, b in enumerate(blocks):
        where = f"[json-pointer:/blocks/{i}]"
        kind = b.get("type") if isinstance(b, dict) else None
        if kind not in BLOCK_TYPES:
            errs.append(f"unknown block type {kind!r} {where}")
            continue
        text = b.get("text")
        if kind == "header":
            if not _text_ok(text, 150, plain_only=True):
                errs.append(f"header needs plain_text of 1-150 characters {where}")
        elif kind == "section":
            fields = b.get("fields")
            if text is None and not fields:
                errs.append(f"section needs text or fields {where}")
            if text is not None and not _text_ok(text, 3000):
                errs.append(f"section text must be 1-3000 characters {where}")
            if fields is not None and (
                len(fields) > 10 or not all(_text_ok(f, 2000) for f in fields)
            ):
                errs.append(f"section fields: at most 10 of at most 2000 characters {where}")
        elif kind == "actions":
            errs.extend(f"{e} {where}" for e in _action_errors(b.get("elements")))
    return errs


def _text_ok(t: Any, limit: int, plain_only: bool = False) -> bool:
    if not isinstance(t, dict) or not isinstance(t.get("text"), str):
        return False
    kinds = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    return t.get("type") in kinds and 0 < len(t["text"]) <= limit


def _action_errors(elements: Any) -> list[str]:
    if not isinstance(elements, list) or not 0 < len(elements) <= 25:
        return ["actions need 1-25 elements"]
    errs, ids = [], set()
    for e in elements:
        if e.get("type") != "button" or not _text_ok(e.get("text"), 75, plain_only=True):
            errs.append("button needs plain_text of at most 75 characters")
        aid = e.get("action_id")
        if aid is not None and (aid in ids or len(aid) > 255):
            errs.append(f"duplicate or too long action_id {aid!r}")
        ids.add(aid)
        if len(e.get("value", "")) > 2000 or len(e.get("url", "")) > 3000:
            errs.append("button value/url too long")
    return errs


class FakeSlack(FakeServer):
    def __init__(
        self,
        tokens: set[str] | None = None,
        channels: dict[str, str] | None = None,
        webhooks: set[str] | None = None,
        users: set[str] | None = None,
    ) -> None:
        super().__init__()
        self.tokens = tokens if tokens is not None else {"xoxb-test-token"}
        self.channels = channels if channels is not None else {"alerts": "C0ALERTS"}  # name->id
        self.webhooks = webhooks if webhooks is not None else {"T000/B000/XXXX"}
        self.users = users if users is not None else {"U012ALICE"}
        self.messages: dict[tuple[str, str], Message] = {}
        self.webhook_posts: list[dict[str, Any]] = []
        self.requests: list[Request] = []
        self._rate_limit: list[int] = []
        self._fail: list[tuple[int, str]] = []
        self.history_error = ""  # conversations.history answers this error when set
        self._counter = 0

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    def webhook_url(self, path: str = "T000/B000/XXXX") -> str:
        return f"{self.base_url}/services/{path}"

    def top_level(self) -> list[Message]:
        return [m for m in self.messages.values() if m.thread_ts is None]

    def replies(self, ts: str) -> list[Message]:
        return [m for m in self.messages.values() if m.thread_ts == ts]

    def calls(self, method: str) -> list[Request]:
        return [r for r in self.requests if r.path.endswith(method)]

    def rate_limit_next(self, n: int, retry_after: int = 1) -> None:
        self._rate_limit.extend([retry_after] * n)

    def fail_next(self, n: int, status: int = 500, error: str = "internal_error") -> None:
        self._fail.extend([(status, error)] * n)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # conversations.* are read methods: GET
        app.router.add_post("/services/{path:.+}", self._webhook)

    async def _fault(self, req: Request, webhook: bool) -> web.Response | None:
        await self.hold()
        if self._rate_limit:
            req.status, req.error = 429, "ratelimited"
            headers = {"Retry-After": str(self._rate_limit.pop(0))}
            if webhook:
                return web.Response(status=429, text="rate_limited", headers=headers)
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers=headers
            )
        if self._fail:
            req.status, req.error = self._fail.pop(0)
            if webhook:
                return web.Response(status=req.status, text=req.error)
            return web.json_response({"ok": False, "error": req.error}, status=req.status)
        return None

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.method == "GET":
            body = dict(request.query)
        elif request.content_type == "application/json":
            body = await request.json()
        else:
            body = dict(await request.post())
            if isinstance(body.get("blocks"), str):
                body["blocks"] = json.loads(body["blocks"])
        req = Request(path=request.path, at=time.monotonic(), body=body)
        self.requests.append(req)
        fault = await self._fault(req, webhook=False)
        if fault is not None:
            return fault
        result = self._call(method, body, request.headers.get("Authorization", ""))
        req.status, req.error = 200, str(result.get("error", ""))
        return web.json_response(result)

    def _call(self, method: str, body: dict[str, Any], auth: str) -> dict[str, Any]:
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        token = token or str(body.get("token", ""))
        if not token:
            return {"ok": False, "error": "not_authed"}
        if token not in self.tokens:
            return {"ok": False, "error": "invalid_auth"}
        if method == "conversations.list":
            return self._list()
        if method == "conversations.history":
            return self._history(body)
        if method not in ("chat.postMessage", "chat.update"):
            return {"ok": False, "error": "unknown_method"}
        name = str(body.get("channel", "")).lstrip("#")
        if name in self.users:  # the bot's direct-message channel with that user
            name = self.channels.setdefault(f"@{name}", "D" + name[1:])
        channel = self.channels.get(name) or (name if name in self.channels.values() else None)
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        text, blocks = body.get("text"), body.get("blocks")
        if not text and not blocks:
            return {"ok": False, "error": "no_text"}
        if text and len(text) > 40000:
            return {"ok": False, "error": "msg_too_long"}
        if blocks is not None:
            errors = block_errors(blocks)
            if errors:
                return {"ok": False, "error": "invalid_blocks", "errors": errors}
        if method == "chat.update":
            msg = self.messages.get((channel, str(body.get("ts", ""))))
            if msg is None:
                return {"ok": False, "error": "message_not_found"}
            msg.history.append({"text": msg.text, "blocks": msg.blocks})
            msg.text, msg.blocks = text or "", blocks or []
            return {"ok": True, "channel": channel, "ts": msg.ts, "text": msg.text}
        thread_ts = body.get("thread_ts")
        if thread_ts and (channel, thread_ts) not in self.messages:
            return {"ok": False, "error": "thread_not_found"}
        meta = body.get("metadata")
        if isinstance(meta, str):
            meta = json.loads(meta)
        if meta is not None and not (
            isinstance(meta, dict) and isinstance(meta.get("event_type"), str)
            and isinstance(meta.get("event_payload"), dict)
        ):  # fmt: skip
            return {"ok": False, "error": "invalid_metadata_format"}
        self._counter += 1
        ts = f"{int(time.time())}.{self._counter:06d}"
        self.messages[(channel, ts)] = Message(
            channel, ts, text or "", blocks or [], thread_ts, metadata=meta
        )
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": text, "ts": ts}}

    def _list(self) -> dict[str, Any]:
        chans = [{"id": cid, "name": name, "is_channel": True}
                 for name, cid in self.channels.items()]  # fmt: skip
        return {"ok": True, "channels": chans, "response_metadata": {"next_cursor": ""}}

    def _history(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.history_error:
            return {"ok": False, "error": self.history_error}
        channel = str(body.get("channel", ""))
        if channel not in self.channels.values():
            return {"ok": False, "error": "channel_not_found"}  # names are not accepted
        oldest, latest = float(body.get("oldest") or 0), float(body.get("latest") or 1e12)
        limit = min(999, int(body.get("limit") or 100))
        start = int(body.get("cursor") or 0)
        with_meta = str(body.get("include_all_metadata", "")).lower() in ("1", "true")
        found = sorted(
            (m for m in self.messages.values()
             if m.channel == channel and m.thread_ts is None and oldest < float(m.ts) < latest),
            key=lambda m: float(m.ts), reverse=True,
        )  # fmt: skip
        page = found[start : start + limit]
        more = start + limit < len(found)
        out = []
        for m in page:
            item: dict[str, Any] = {"type": "message", "ts": m.ts, "text": m.text}
            if with_meta and m.metadata is not None:
                item["metadata"] = m.metadata
            out.append(item)
        cursor = str(start + limit) if more else ""
        return {"ok": True, "messages": out, "has_more": more,
                "response_metadata": {"next_cursor": cursor}}  # fmt: skip

    async def _webhook(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = {}
        req = Request(path=request.path, at=time.monotonic(), body=body)
        self.requests.append(req)
        fault = await self._fault(req, webhook=True)
        if fault is not None:
            return fault
        if request.match_info["path"] not in self.webhooks:
            req.status, req.error = 404, "no_service"
        elif not body.get("text") and not body.get("blocks"):
            req.status, req.error = 400, "no_text"
        elif body.get("blocks") is not None and block_errors(body["blocks"]):
            req.status, req.error = 400, "invalid_blocks"
        else:
            self.webhook_posts.append(body)
            req.status = 200
            return web.Response(text="ok")
        return web.Response(status=req.status, text=req.error)
