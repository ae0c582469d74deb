"""A local Telegram Bot API: sendMessage, editMessageText, answerCallbackQuery, getUpdates,
setWebhook, deleteWebhook, getWebhookInfo, checked the way the Bot API documents them.

- Requests: POST /bot<token>/<method> with JSON; answers {"ok": true, "result": …} or
  {"ok": false, "error_code": N, "description": "…", "parameters": {…}}
  (https://core.telegram.org/bots/api#making-requests). An unknown token: 401 Unauthorized.
- sendMessage / editMessageText (https://core.telegram.org/bots/api#sendmessage,
  #editmessagetext): a known chat ("Bad Request: chat not found"), parse_mode HTML with only
  the documented tags and entities (https://core.telegram.org/bots/api#html-style: "can't
  parse entities"), 1-4096 characters after parsing, inline keyboard buttons with exactly
  one of url / callback_data, callback_data 1-64 bytes (#inlinekeyboardbutton); an edit of
  a missing message or to the same content is refused as Telegram refuses it.
- Rate limits (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this):
  `rate_limit_next(n, retry_after)` answers 429 "Too Many Requests: retry after N" with
  `parameters.retry_after` (#responseparameters); `limited_until` says when the last one ends.
- Updates (https://core.telegram.org/bots/api#getting-updates): `press()` makes a
  callback_query of a message's button, as a client does (`data` may be forged). With a
  webhook set (setWebhook: https URL, secret_token of 1-256 A-Z a-z 0-9 _ -), the update is
  posted there with X-Telegram-Bot-Api-Secret-Token (to the local address given by
  `route_webhooks`, as a TLS ingress would) and kept until answered 2xx; else getUpdates
  returns it (offset confirms earlier updates, long poll up to `timeout`; a second
  concurrent getUpdates terminates the first with 409 Conflict, and getUpdates while a
  webhook is set is a 409 too).
- For the bench: `arrivals` lists (message_id, time.monotonic()) of every post.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import re
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.servers.base import FakeServer

TOKEN = "123456789:AAHtestTokenForTheLocalBotApi_0123456"
CHAT = "-1001234567890"
TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
        "tg-spoiler", "span", "blockquote", "tg-emoji"}  # fmt: skip
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);")
_TAG = re.compile(r"<(/?)([a-z-]+)((?:\s+[a-z-]+=\"[^\"]*\")*)\s*>")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message")  # fmt: skip


class ApiError(Exception):
    def __init__(self, code: int, description: str, **parameters: Any) -> None:
        self.code, self.description, self.parameters = code, description, parameters


@dataclass
class Request:
    method: str
    at: float  # time.monotonic() of arrival
    body: dict[str, Any]
    status: int = 0
    description: str = ""


@dataclass
class Message:
    chat: str
    message_id: int
    text: str  # the HTML as sent
    markup: dict[str, Any] | None
    history: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)

    @property
    def plain(self) -> str:
        return html.unescape(re.sub(r"<[^>]*>", "", self.text))

    def buttons(self) -> list[dict[str, Any]]:
        rows = (self.markup or {}).get("inline_keyboard") or []
        return [b for row in rows for b in row]

    def callback_data(self) -> list[str]:
        return [b["callback_data"] for b in self.buttons() if "callback_data" in b]


def html_errors(text: str) -> str:
    """Why Telegram would refuse this HTML text ("" if it would not)."""
    stack: list[str] = []
    pos = 0
    for m in re.finditer(r"<|&", text):
        if m.start() < pos:
            continue
        if m.group() == "&":
            if not _ENTITY.match(text, m.start()):
                return f"Can't find end of the entity starting at byte offset {m.start()}"
            continue
        tag = _TAG.match(text, m.start())
        if tag is None or tag.group(2) not in TAGS:
            return f"Unsupported start tag at byte offset {m.start()}"
        pos = tag.end()
        if tag.group(1):
            if not stack or stack.pop() != tag.group(2):
                return f"Unmatched end tag at byte offset {m.start()}"
        else:
            stack.append(tag.group(2))
    return f"Can't find end tag corresponding to start tag {stack[-1]}" if stack else ""


def visible(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", text))


def markup_errors(markup: Any) -> str:
    if markup is None:
        return ""
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        return 'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup must be an Array'
    for b in (b for r in rows for b in r):
        if not isinstance(b, dict) or not str(b.get("text") or "").strip():
            return "Bad Request: text buttons are unallowed in the inline keyboard"
        kinds = [k for k in ("url", "callback_data") if k in b]
        if len(kinds) != 1:
            return 'Bad Request: can\'t find field "url" or "callback_data"'
        if "callback_data" in b and not 1 <= len(str(b["callback_data"]).encode()) <= 64:
            return "Bad Request: BUTTON_DATA_INVALID"
        if "url" in b and not str(b["url"]).startswith(("http://", "https://", "tg://")):
            return "Bad Request: BUTTON_URL_INVALID"
    return ""


class FakeTelegram(FakeServer):
    def __init__(self, tokens: set[str] | None = None, chats: set[str] | None = None) -> None:
        super().__init__()
        self.tokens = tokens if tokens is not None else {TOKEN}
        self.chats = chats if chats is not None else {CHAT}
        self.messages: dict[tuple[str, int], Message] = {}
        self.requests: list[Request] = []
        self.arrivals: list[tuple[int, float]] = []
        self.answers: dict[str, str] = {}  # callback_query id → the text it was answered with
        self.webhook: dict[str, Any] = {}  # setWebhook's url, secret_token, allowed_updates
        self.local_webhooks: dict[str, str] = {}  # public base URL → local base URL
        self.webhook_posts: list[tuple[int, int]] = []  # (update_id, HTTP status)
        self.pending: list[dict[str, Any]] = []  # updates not yet confirmed / delivered
        self.conflicts = 0  # getUpdates answered 409
        self.limited_until = 0.0  # time.monotonic() until which the last 429 told to wait
        self._rate_limit: list[int] = []
        self._hang_methods: dict[str, int] = {}
        self._fail: list[int] = []
        self._ids = itertools.count(1)
        self._update_ids = itertools.count(500_000)
        self._queries = itertools.count(7_000_000)
        self._issued: set[str] = set()
        self._poll: asyncio.Future[None] | None = None  # the getUpdates in progress
        self._new_update = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None

    def calls(self, method: str) -> list[Request]:
        return [r for r in self.requests if r.method == method]

    def posted(self) -> list[Message]:
        return list(self.messages.values())

    def rate_limit_next(self, n: int, retry_after: int = 1) -> None:
        self._rate_limit.extend([retry_after] * n)

    def fail_next(self, n: int, status: int = 500) -> None:
        self._fail.extend([status] * n)

    def hang_method(self, method: str, n: int) -> None:
        """Hold the next `n` calls of `method` until `release()` (then answered as usual)."""
        self._hang_methods[method] = self._hang_methods.get(method, 0) + n

    def held(self, method: str) -> list[Request]:
        return [r for r in self.calls(method) if r.status == 0]

    def route_webhooks(self, public_base: str, local_base: str) -> None:
        self.local_webhooks[public_base.rstrip("/")] = local_base.rstrip("/")

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        await super().stop()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/bot{token}/{method}", self._api)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            body = {}
        req = Request(method, time.monotonic(), body if isinstance(body, dict) else {})
        self.requests.append(req)
        await self.hold()
        if self._hang_methods.get(method):
            self._hang_methods[method] -= 1
            await self._release.wait()
        try:
            if request.match_info["token"] not in self.tokens:
                raise ApiError(401, "Unauthorized")
            self._faults()
            result = await self._call(method, req.body)
        except ApiError as e:
            req.status, req.description = e.code, e.description
            answer: dict[str, Any] = {"ok": False, "error_code": e.code,
                                      "description": e.description}  # fmt: skip
            if e.parameters:
                answer["parameters"] = e.parameters
            return web.json_response(answer, status=e.code)
        req.status = 200
        return web.json_response({"ok": True, "result": result})

    def _faults(self) -> None:
        if self._rate_limit:
            wait = self._rate_limit.pop(0)
            self.limited_until = max(self.limited_until, time.monotonic() + wait)
            raise ApiError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        if self._fail:
            status = self._fail.pop(0)
            raise ApiError(status, "Internal Server Error" if status == 500 else "Bad Gateway")

    async def _call(self, method: str, body: dict[str, Any]) -> Any:
        if method == "sendMessage":
            return self._send(body)
        if method == "editMessageText":
            return self._edit(body)
        if method == "answerCallbackQuery":
            return self._answer(body)
        if method == "getUpdates":
            return await self._get_updates(body)
        if method == "setWebhook":
            return self._set_webhook(body)
        if method == "deleteWebhook":
            self.webhook = {}
            if body.get("drop_pending_updates"):
                self.pending.clear()
            return True
        if method == "getWebhookInfo":
            return {"url": self.webhook.get("url", ""), "pending_update_count": len(self.pending)}
        raise ApiError(404, "Not Found")

    def _text(self, body: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if body.get("parse_mode") == "HTML":
            problem = html_errors(text)
            if problem:
                raise ApiError(400, f"Bad Request: can't parse entities: {problem}")
            shown = visible(text)
        elif body.get("parse_mode") is None:
            shown = text
        else:
            raise ApiError(400, "Bad Request: unsupported parse_mode")
        if not shown.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(shown.encode("utf-16-le")) // 2 > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        markup = body.get("reply_markup")
        problem = markup_errors(markup)
        if problem:
            raise ApiError(400, problem)
        return text, markup

    def _chat(self, body: dict[str, Any]) -> str:
        chat = str(body.get("chat_id", ""))
        if chat not in self.chats:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _send(self, body: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(body)
        text, markup = self._text(body)
        reply = body.get("reply_parameters")
        if reply is not None:  # https://core.telegram.org/bots/api#replyparameters
            if not isinstance(reply, dict) or type(reply.get("message_id")) is not int:
                raise ApiError(400, "Bad Request: invalid reply parameters")
            known = (chat, reply["message_id"]) in self.messages
            if not known and not reply.get("allow_sending_without_reply"):
                raise ApiError(400, "Bad Request: message to be replied not found")
        mid = next(self._ids)
        self.messages[(chat, mid)] = Message(chat, mid, text, markup)
        self.arrivals.append((mid, time.monotonic()))
        return {"message_id": mid, "chat": {"id": int(chat), "type": "supergroup"},
                "date": int(time.time()), "text": visible(text)}  # fmt: skip

    def _edit(self, body: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(body)
        msg = self.messages.get((chat, int(body.get("message_id") or 0)))
        if msg is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        text, markup = self._text(body)
        empty = {"inline_keyboard": []}
        if text == msg.text and (markup or empty) == (msg.markup or empty):
            raise ApiError(400, NOT_MODIFIED)
        msg.history.append((msg.text, msg.markup))
        msg.text, msg.markup = text, markup
        return {"message_id": msg.message_id, "chat": {"id": int(chat)}, "text": visible(text)}

    def _answer(self, body: dict[str, Any]) -> bool:
        qid = str(body.get("callback_query_id", ""))
        if qid not in self._issued or qid in self.answers:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired "
                           "or query ID is invalid")  # fmt: skip
        text = str(body.get("text", ""))
        if len(text) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self.answers[qid] = text
        return True

    def _set_webhook(self, body: dict[str, Any]) -> bool:
        url = str(body.get("url", ""))
        if url == "":
            self.webhook = {}
            return True
        if not url.startswith("https://"):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        secret = body.get("secret_token")
        if secret is not None and not _SECRET.fullmatch(str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = {"url": url, "secret_token": secret,
                        "allowed_updates": body.get("allowed_updates")}  # fmt: skip
        return True

    async def _get_updates(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is "
                           "active; use deleteWebhook to delete the webhook first")  # fmt: skip
        if self._poll is not None and not self._poll.done():
            self._poll.set_result(None)  # the earlier caller gets the 409
        me: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._poll = me
        offset = int(body.get("offset") or 0)
        if offset:  # confirms (forgets) every update before it
            self.pending = [u for u in self.pending if u["update_id"] >= offset]

        def due() -> list[dict[str, Any]]:
            return [u for u in self.pending if u["update_id"] >= offset]

        deadline = time.monotonic() + min(50, max(0, int(body.get("timeout") or 0)))
        while not due() and time.monotonic() < deadline and not me.done():
            self._new_update.clear()
            waiter = asyncio.ensure_future(self._new_update.wait())
            await asyncio.wait({waiter, me}, timeout=deadline - time.monotonic(),
                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
            waiter.cancel()
        if me.done() and self._poll is not me:
            self.conflicts += 1
            raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure "
                           "that only one bot instance is running")  # fmt: skip
        limit = int(body.get("limit") or 100)
        return due()[:limit]

    # --- what a Telegram client does ---------------------------------------------
    def callback_update(
        self,
        msg: Message,
        user: dict[str, Any] | None = None,
        data: str | None = None,
        chat: str | None = None,
    ) -> dict[str, Any]:
        """The Update a press of `msg`'s Acknowledge button makes (`data`/`chat` forged)."""
        if data is None:
            data = msg.callback_data()[0]
        qid = str(next(self._queries))
        self._issued.add(qid)
        alice = {"id": 4242, "is_bot": False, "first_name": "Alice", "username": "alice"}
        who = user if user is not None else alice
        return {"update_id": next(self._update_ids), "callback_query": {
            "id": qid, "from": who, "chat_instance": "-5550001", "data": data,
            "message": {"message_id": msg.message_id, "date": int(time.time()),
                        "chat": {"id": int(chat or msg.chat), "type": "supergroup"},
                        "text": msg.plain},
        }}  # fmt: skip

    async def press(self, msg: Message, **kw: Any) -> dict[str, Any]:
        """Press the button: the update goes to the webhook, else waits for getUpdates."""
        update = self.callback_update(msg, **kw)
        self.pending.append(update)
        self._new_update.set()
        if self.webhook:
            await self.deliver()
        return update

    async def deliver(self) -> None:
        """Post the pending updates to the webhook, as Telegram does (again after a non-2xx)."""
        url = str(self.webhook["url"])
        for public, local in self.local_webhooks.items():
            if url.startswith(public):
                url = local + url[len(public) :]
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = str(self.webhook["secret_token"])
        for update in list(self.pending):
            async with self._session.post(url, json=update, headers=headers) as resp:
                self.webhook_posts.append((update["update_id"], resp.status))
                if 200 <= resp.status < 300:
                    self.pending.remove(update)
