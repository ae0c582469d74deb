"""A local Vonage Messages API and Voice API that check requests as Vonage does and call
the receiver back with signed webhooks.

Auth: `Authorization: Bearer <JWT>` signed RS256 with the application's private key,
claims application_id, iat, jti (exp optional)
(https://developer.vonage.com/en/getting-started/concepts/authentication#json-web-tokens).
Messages: POST /v1/messages JSON; message_type "text", channel "sms", to and from
required, numbers in E.164 without "+", text ≤ 1000 characters; 202 {message_uuid};
errors RFC 7807 problem details, 401 unauthorised, 422 invalid parameters
(https://developer.vonage.com/en/api/messages#SendMessage). Voice: POST /v1/calls JSON with
`to` [{type: phone, number}], `from`, and `ncco` (or answer_url); 201 {uuid, status}
(https://developer.vonage.com/en/api/voice#createCall). The voice side "executes" the NCCO:
records what `talk` says and "presses" digits by POSTing a dtmf input event to the
`input` action's eventUrl. Webhooks are signed: Bearer JWT HS256 with the signature
secret, claim payload_hash = SHA-256 of the body
(https://developer.vonage.com/en/getting-started/concepts/webhooks#validating-signed-webhooks).
"""

from __future__ import annotations

import hashlib
import itertools
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
import orjson
from aiohttp import web
from yarl import URL

from tests.servers.base import FakeServer

NUMBER = re.compile(r"^[1-9][0-9]{6,14}$")
APP_ID = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
SIGNATURE_SECRET = "vonage-test-signature-secret-0123456789ab"


@dataclass
class Sms:
    uuid: str
    to: str
    from_: str
    text: str
    client_ref: str
    at: float


@dataclass
class Call:
    uuid: str
    to: str
    from_: str
    ncco: list[dict[str, Any]]
    event_url: str
    at: float
    said: list[str] = field(default_factory=list)


def execute(ncco: list[dict[str, Any]]) -> tuple[list[str], str]:
    """Run an NCCO up to its first `input` action: what `talk` says, and its eventUrl."""
    said: list[str] = []
    for action in ncco:
        if action.get("action") == "talk":
            said.append(str(action.get("text", "")))
        elif action.get("action") == "input":
            return said, str((action.get("eventUrl") or [""])[0])
    return said, ""


def _problem(status: int, title: str, detail: str) -> web.Response:
    return web.json_response({"type": "https://developer.nexmo.com/api-errors", "title": title,
                              "detail": detail}, status=status)  # fmt: skip


def signed(secret: str, body: bytes, iat: float | None = None) -> str:
    now = int(time.time() if iat is None else iat)
    claims = {"iat": now, "jti": str(uuid.uuid4()), "iss": "Vonage", "api_key": "testkey",
              "payload_hash": hashlib.sha256(body).hexdigest()}  # fmt: skip
    return "Bearer " + jwt.encode(claims, secret, algorithm="HS256")


class FakeVonage(FakeServer):
    def __init__(self, public_key: str, application_id: str = APP_ID,
                 signature_secret: str = SIGNATURE_SECRET) -> None:  # fmt: skip
        super().__init__()
        self.public_key, self.application_id = public_key, application_id
        self.signature_secret = signature_secret
        self.sms: list[Sms] = []
        self.calls: list[Call] = []
        self.requests: list[tuple[str, int]] = []
        self._fail: list[int] = []
        self._ids = itertools.count(1)

    def fail_next(self, n: int, status: int = 500) -> None:
        self._fail += [status] * n

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/calls", self._calls)

    async def _check(self, request: web.Request) -> tuple[web.Response | None, dict[str, Any]]:
        await self.hold()
        if self._fail:
            return _problem(self._fail.pop(0), "Internal Error", "try again"), {}
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            claims = jwt.decode(token, self.public_key, algorithms=["RS256"],
                                options={"require": ["iat", "jti"]})  # fmt: skip
        except jwt.PyJWTError as e:
            return _problem(401, "Unauthorized", f"invalid token: {e}"), {}
        if scheme != "Bearer" or claims.get("application_id") != self.application_id:
            return _problem(401, "Unauthorized", "wrong application"), {}
        try:
            doc = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return _problem(400, "Bad Request", "body is not JSON"), {}
        return None, doc if isinstance(doc, dict) else {}

    async def _messages(self, request: web.Request) -> web.Response:
        refused, doc = await self._check(request)
        if refused is None:
            bad = [k for k in ("to", "from", "text") if not isinstance(doc.get(k), str)]
            if doc.get("message_type") != "text" or doc.get("channel") != "sms" or bad:
                refused = _problem(422, "Invalid params", f"missing or wrong: {bad or 'type'}")
            elif not NUMBER.fullmatch(doc["to"]):
                refused = _problem(422, "Invalid params", "The value of `to` is not a valid "
                                   "number (E.164 without +)")  # fmt: skip
            elif len(doc["text"]) > 1000:
                refused = _problem(422, "Invalid params", "text exceeds 1000 characters")
        if refused is not None:
            self.requests.append((request.path, refused.status))
            return refused
        mid = str(uuid.uuid4())
        self.sms.append(Sms(mid, doc["to"], doc["from"], doc["text"],
                            str(doc.get("client_ref", "")), time.monotonic()))  # fmt: skip
        self.requests.append((request.path, 202))
        return web.json_response({"message_uuid": mid}, status=202)

    async def _calls(self, request: web.Request) -> web.Response:
        refused, doc = await self._check(request)
        if refused is None:
            to: Any = doc.get("to")
            ok_to = isinstance(to, list) and len(to) == 1 and to[0].get("type") == "phone"
            if not ok_to or not NUMBER.fullmatch(str(to[0].get("number", ""))):
                refused = _problem(400, "Bad Request", "to: one phone endpoint, E.164 w/o +")
            elif not isinstance(doc.get("ncco"), list) or not isinstance(doc.get("from"), dict):
                refused = _problem(400, "Bad Request", "ncco and from are required")
        if refused is not None:
            self.requests.append((request.path, refused.status))
            return refused
        cid = str(uuid.uuid4())
        said, _ = execute(doc["ncco"])
        event_url = (doc.get("event_url") or [""])[0]
        self.calls.append(Call(cid, doc["to"][0]["number"], doc["from"]["number"], doc["ncco"],
                               event_url, time.monotonic(), said))  # fmt: skip
        self.requests.append((request.path, 201))
        return web.json_response({"uuid": cid, "status": "started"}, status=201)

    # --- webhooks to the receiver ---------------------------------------------------
    def reaches(self, public_url: str, actual: str) -> None:
        """Webhooks to `public_url`… go to `actual`… (a reverse proxy)."""
        self._proxy = (public_url.rstrip("/"), actual.rstrip("/"))

    async def callback(self, url: str, doc: dict[str, Any],
                       authorization: str | None = None) -> tuple[int, str]:  # fmt: skip
        body = orjson.dumps(doc)
        auth = authorization if authorization is not None else signed(self.signature_secret, body)
        public, actual = getattr(self, "_proxy", ("", ""))
        target = actual + url[len(public) :] if public and url.startswith(public) else url
        async with aiohttp.ClientSession() as s, s.post(
            URL(target, encoded=True), data=body,
            headers={"Authorization": auth, "Content-Type": "application/json"},
        ) as resp:  # fmt: skip
            return resp.status, await resp.text()

    async def reply(self, url: str, from_: str, text: str, to: str = "447700900000",
                    message_uuid: str | None = None, **kw: Any) -> tuple[int, str]:  # fmt: skip
        """An inbound text (Messages API inbound webhook, channel sms)."""
        doc = {"channel": "sms", "message_type": "text", "message_uuid":
               message_uuid or str(uuid.uuid4()), "to": to, "from": from_.lstrip("+"),
               "text": text, "timestamp": "2026-12-08T02:00:00Z"}  # fmt: skip
        return await self.callback(url, doc, **kw)

    async def press(self, call: Call, digits: str, **kw: Any) -> tuple[int, str]:
        _, url = execute(call.ncco)
        doc = {"uuid": call.uuid, "conversation_uuid": f"CON-{call.uuid}", "to": call.to,
               "from": call.from_, "dtmf": {"digits": digits, "timed_out": False},
               "timestamp": "2026-12-08T02:00:00Z"}  # fmt: skip
        status, text = await self.callback(url, doc, **kw)
        if status == 200:
            ncco = orjson.loads(text)
            said, gather = execute(ncco)
            call.said += said
            if gather:
                call.ncco = ncco
        return status, text

    async def call_event(self, call: Call, status: str) -> int:
        doc = {"uuid": call.uuid, "conversation_uuid": f"CON-{call.uuid}", "to": call.to,
               "from": call.from_, "status": status,
               "timestamp": "2026-12-08T02:00:00Z"}  # fmt: skip
        return (await self.callback(call.event_url, doc))[0]
