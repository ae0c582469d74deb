"""A local ntfy server that checks publishes the way ntfy documents, records every message,
and can "press" an action button by making the request the phone app would make.

https://docs.ntfy.sh/publish/#publish-as-json (POST / with {topic, message, title, tags,
priority, click, actions}), https://docs.ntfy.sh/publish/ (POST /<topic> with X-Title,
X-Priority, X-Tags headers), https://docs.ntfy.sh/publish/#access-tokens (Authorization:
Bearer tk_…), https://docs.ntfy.sh/publish/#action-buttons (at most 3; `view` and `http`
need a url; an `http` action's method defaults to POST), https://docs.ntfy.sh/publish/#limitations
(message up to 4096 bytes), https://docs.ntfy.sh/config/#rate-limiting (429 when the
visitor's request limit is reached). Errors are ntfy's JSON: {code, http, error}.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.servers.base import FakeServer

TOPIC = re.compile(r"[-_A-Za-z0-9]{1,64}")
MAX_MESSAGE = 4096
MAX_ACTIONS = 3
ACTIONS = ("view", "http", "broadcast")
PRIORITY_WORDS = {"min": 1, "low": 2, "default": 3, "high": 4, "max": 5, "urgent": 5}


@dataclass
class Message:
    topic: str
    body: dict[str, Any]

    @property
    def priority(self) -> int:
        return int(self.body.get("priority", 3))

    def action(self, label: str) -> dict[str, Any] | None:
        return next((a for a in self.body.get("actions", []) if a.get("label") == label), None)


@dataclass
class _Faults:
    rate_limit: int = 0  # answer this many coming publishes with 429
    fail: list[int] = field(default_factory=list)  # status codes to answer, in order


def _err(status: int, code: int, text: str) -> web.Response:
    return web.json_response({"code": code, "http": status, "error": text}, status=status)


def validate(body: Any) -> str | None:
    """What ntfy would refuse in a JSON publish (None: fine)."""
    if not isinstance(body, dict):
        return "invalid request: body must be a JSON object"
    topic = body.get("topic")
    if not isinstance(topic, str) or not TOPIC.fullmatch(topic):
        return "invalid topic"
    prio = body.get("priority", 3)
    if type(prio) is not int or not 1 <= prio <= 5:
        return "invalid priority"
    for f in ("title", "message", "click"):
        if f in body and not isinstance(body[f], str):
            return f"invalid {f}"
    if len(body.get("message", "").encode("utf-8")) > MAX_MESSAGE:
        return "message too large"
    tags = body.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        return "invalid tags"
    actions = body.get("actions", [])
    if not isinstance(actions, list) or len(actions) > MAX_ACTIONS:
        return "invalid request: too many actions"
    for a in actions:
        if not isinstance(a, dict) or a.get("action") not in ACTIONS or not a.get("label"):
            return "invalid request: action invalid"
        if a["action"] in ("view", "http") and not str(a.get("url", "")).startswith("http"):
            return "invalid request: action url invalid"
    return None


class FakeNtfy(FakeServer):
    def __init__(self, token: str | None = None) -> None:
        super().__init__()
        self.token = token
        self.messages: list[Message] = []
        self.refused: list[tuple[int, str]] = []
        self.faults = _Faults()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._json)
        app.router.add_post("/{topic}", self._plain)

    def _gate(self, request: web.Request) -> web.Response | None:
        if (
            self.token is not None
            and request.headers.get("Authorization") != f"Bearer {self.token}"
        ):
            return _err(401, 40101, "unauthorized")
        if self.faults.rate_limit:
            self.faults.rate_limit -= 1
            return _err(429, 42901, "limit reached: too many requests")
        if self.faults.fail:
            status = self.faults.fail.pop(0)
            return _err(status, status * 100 + 1, "server error")
        return None

    async def _json(self, request: web.Request) -> web.Response:
        await self.hold()
        refused = self._gate(request)
        if refused is not None:
            self.refused.append((refused.status, "gate"))
            return refused
        try:
            body = await request.json()
        except ValueError:
            return _err(400, 40001, "invalid request: body is not JSON")
        why = validate(body)
        if why is not None:
            self.refused.append((413 if "large" in why else 400, why))
            return _err(413, 41301, why) if "large" in why else _err(400, 40001, why)
        self.messages.append(Message(body["topic"], body))
        return web.json_response({"id": f"m{len(self.messages)}", "event": "message",
                                  "topic": body["topic"]})  # fmt: skip

    async def _plain(self, request: web.Request) -> web.Response:
        refused = self._gate(request)
        if refused is not None:
            return refused
        topic = request.match_info["topic"]
        if not TOPIC.fullmatch(topic):
            return _err(400, 40009, "invalid topic")
        h = request.headers
        prio = h.get("X-Priority", "3")
        level = PRIORITY_WORDS.get(prio, int(prio) if prio.isdigit() else 0)
        tags = [t for t in h.get("X-Tags", "").split(",") if t]
        body: dict[str, Any] = {"topic": topic, "message": await request.text(),
                                "title": h.get("X-Title", ""), "priority": level,
                                "tags": tags}  # fmt: skip
        why = validate(body)
        if why is not None:
            return _err(400, 40001, why)
        self.messages.append(Message(topic, body))
        return web.json_response({"id": f"m{len(self.messages)}", "event": "message"})

    def on(self, topic: str) -> list[Message]:
        return [m for m in self.messages if m.topic == topic]

    async def press(
        self, message: Message, label: str = "Acknowledge", via: tuple[str, str] = ("", "")
    ) -> tuple[int, Any]:
        """The request the phone app makes for an action button: an `http` action's
        method (POST by default), url, headers and body. `via` = (public base URL, where
        it leads here): the proxy in front of the service, as it were."""
        a = message.action(label)
        assert a is not None and a["action"] == "http", f"no http action {label!r}"
        url = a["url"].replace(via[0], via[1], 1) if via[0] else a["url"]
        async with aiohttp.ClientSession() as s, s.request(
            a.get("method", "POST"), url, headers=a.get("headers", {}),
            data=a.get("body", ""),
        ) as resp:  # fmt: skip
            try:
                return resp.status, await resp.json()
            except (aiohttp.ContentTypeError, ValueError):
                return resp.status, await resp.text()
