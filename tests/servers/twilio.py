"""A local Twilio REST API (Messages and Calls) that checks requests as Twilio does and
calls the receiver back with correctly signed requests.

Create a Message: POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded,
HTTP Basic auth AccountSid:AuthToken; To (E.164) and From (a number of the account) and
Body (≤ 1600 characters) required; 201 with the message resource
(https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource).
Create a Call: POST …/Calls.json with To, From and Twiml (well-formed, ≤ 4000 characters)
(https://www.twilio.com/docs/voice/api/call-resource#create-a-call-resource). Errors are
JSON {code, message, more_info, status} with Twilio's codes
(https://www.twilio.com/docs/api/errors): 20003 authentication, 21211 invalid To,
21606 From not the account's, 21602 Body missing, 21617 Body too long, 12100 TwiML parse
failure. Callbacks carry X-Twilio-Signature: HMAC-SHA1 of the full URL plus the sorted
POST parameters, keyed by the auth token
(https://www.twilio.com/docs/usage/webhooks/webhooks-security). The voice side "executes"
the TwiML it was given: records what <Say> says and "presses" digits by POSTing `Digits`
to the <Gather> action, as Twilio does (https://www.twilio.com/docs/voice/twiml/gather).
"""

from __future__ import annotations

import base64
import itertools
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]
from yarl import URL

from tests.servers.base import FakeServer

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
SID = "AC" + "0" * 32
TOKEN = "twilio-test-auth-token"


@dataclass
class Sms:
    sid: str
    to: str
    from_: str
    body: str
    status_callback: str
    at: float


@dataclass
class Call:
    sid: str
    to: str
    from_: str
    twiml: str
    status_callback: str
    machine_detection: str
    at: float
    said: list[str] = field(default_factory=list)


def execute(twiml: str) -> tuple[list[str], str]:
    """Run a TwiML document as a call would, up to the first <Gather> (where the callee
    presses keys): what is said, and that Gather's action ("" if none: it hangs up)."""
    root = ET.fromstring(twiml)
    said: list[str] = []
    for verb in root:
        if verb.tag == "Say":
            said.append(verb.text or "")
        elif verb.tag == "Gather":
            said += [e.text or "" for e in verb.iter("Say")]
            return said, verb.get("action", "")
        elif verb.tag == "Hangup":
            break
    return said, ""


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message, "status": status,
                              "more_info": f"https://www.twilio.com/docs/errors/{code}"},
                             status=status)  # fmt: skip


class FakeTwilio(FakeServer):
    def __init__(self, numbers: tuple[str, ...] = ("+15005550006",), account_sid: str = SID,
                 auth_token: str = TOKEN) -> None:  # fmt: skip
        super().__init__()
        self.account_sid, self.auth_token, self.numbers = account_sid, auth_token, numbers
        self.sms: list[Sms] = []
        self.calls: list[Call] = []
        self.requests: list[tuple[str, int]] = []  # (path, status answered), every request
        self._fail: list[int] = []
        self._fail_until = 0.0
        self._fail_status = 500
        self._ids = itertools.count(1)

    def fail_next(self, n: int, status: int = 500) -> None:
        self._fail += [status] * n

    def fail_for(self, seconds: float, status: int = 500) -> None:
        self._fail_until, self._fail_status = time.monotonic() + seconds, status

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._messages)
        app.router.add_post("/2010-04-01/Accounts/{sid}/Calls.json", self._calls)

    async def _answer(self, request: web.Request) -> tuple[web.Response | None, dict[str, str]]:
        await self.hold()
        form = {k: str(v) for k, v in (await request.post()).items()}
        if self._fail or time.monotonic() < self._fail_until:
            status = self._fail.pop(0) if self._fail else self._fail_status
            return _error(status, 20500, "Internal Server Error"), form
        expect = "Basic " + base64.b64encode(
            f"{self.account_sid}:{self.auth_token}".encode()).decode()  # fmt: skip
        if request.headers.get("Authorization") != expect or (
            request.match_info["sid"] != self.account_sid
        ):
            return _error(401, 20003, "Authenticate"), form
        to, from_ = form.get("To", ""), form.get("From", "")
        if not E164.fullmatch(to):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number."), form
        if from_ not in self.numbers:
            return _error(400, 21606, f"The From phone number {from_} is not a valid, "
                          "SMS-capable inbound phone number for your account."), form  # fmt: skip
        return None, form

    async def _messages(self, request: web.Request) -> web.Response:
        refused, form = await self._answer(request)
        body = form.get("Body", "")
        if refused is None and not body:
            refused = _error(400, 21602, "Message body is required.")
        if refused is None and len(body) > 1600:
            refused = _error(400, 21617, "The concatenated message body exceeds the 1600 "
                             "character limit.")  # fmt: skip
        if refused is not None:
            self.requests.append((request.path, refused.status))
            return refused
        sid = f"SM{next(self._ids):032x}"
        self.sms.append(Sms(sid, form["To"], form["From"], body, form.get("StatusCallback", ""),
                            time.monotonic()))  # fmt: skip
        self.requests.append((request.path, 201))
        return web.json_response({"sid": sid, "status": "queued", "to": form["To"],
                                  "from": form["From"], "body": body}, status=201)  # fmt: skip

    async def _calls(self, request: web.Request) -> web.Response:
        refused, form = await self._answer(request)
        twiml = form.get("Twiml", "")
        if refused is None:
            try:
                said, _ = execute(twiml)
            except ET.ParseError:
                refused = _error(400, 12100, "Document parse failure")
            if len(twiml) > 4000:
                refused = _error(400, 21232, "Twiml too long")
        if refused is not None:
            self.requests.append((request.path, refused.status))
            return refused
        sid = f"CA{next(self._ids):032x}"
        cb, amd = form.get("StatusCallback", ""), form.get("MachineDetection", "")
        self.calls.append(Call(sid, form["To"], form["From"], twiml, cb, amd, time.monotonic(),
                               said))  # fmt: skip
        self.requests.append((request.path, 201))
        return web.json_response({"sid": sid, "status": "queued"}, status=201)

    # --- callbacks to the receiver, signed as Twilio signs them ----------------------
    def reaches(self, public_url: str, actual: str) -> None:
        """Callbacks to `public_url`… go to `actual`… (a reverse proxy in front of the
        receiver); they are still signed over the public URL, as Twilio signs what it was
        given."""
        self._proxy = (public_url.rstrip("/"), actual.rstrip("/"))

    async def callback(self, url: str, params: dict[str, str], signature: str | None = None,
                       public_url: str | None = None) -> tuple[int, str]:  # fmt: skip
        """POST `params` to `url`, signed over `public_url` (default `url`); `signature`
        overrides it (a forgery)."""
        sig = signature if signature is not None else RequestValidator(
            self.auth_token).compute_signature(public_url or url, params)  # fmt: skip
        public, actual = getattr(self, "_proxy", ("", ""))
        target = actual + url[len(public) :] if public and url.startswith(public) else url
        async with (
            aiohttp.ClientSession() as s,
            s.post(
                URL(target, encoded=True), data=params, headers={"X-Twilio-Signature": sig}
            ) as resp,
        ):
            return resp.status, await resp.text()

    async def reply(self, url: str, from_: str, body: str, to: str | None = None,
                    sid: str | None = None, **kw: Any) -> tuple[int, str]:  # fmt: skip
        """An inbound text from `from_` (Twilio's incoming-message webhook parameters)."""
        params = {"MessageSid": sid or f"SM{next(self._ids):032x}", "AccountSid":
                  self.account_sid, "From": from_, "To": to or self.numbers[0], "Body": body,
                  "NumMedia": "0"}  # fmt: skip
        return await self.callback(url, params, **kw)

    async def press(self, call: Call, digits: str, url: str | None = None,
                    **kw: Any) -> tuple[int, str]:  # fmt: skip
        """Press `digits` in the call's current <Gather>; the TwiML answer is executed
        (what it says is added to `call.said`)."""
        _, action = execute(call.twiml)
        params = {"CallSid": call.sid, "AccountSid": self.account_sid, "From": call.from_,
                  "To": call.to, "Digits": digits, "CallStatus": "in-progress"}  # fmt: skip
        status, text = await self.callback(url or action, params, **kw)
        if status == 200 and text.startswith("<?xml"):
            said, gather = execute(text)
            call.said += said
            if gather:
                call.twiml = text
        return status, text

    async def call_status(self, call: Call, status: str, answered_by: str = "") -> int:
        params = {"CallSid": call.sid, "AccountSid": self.account_sid, "From": call.from_,
                  "To": call.to, "CallStatus": status}  # fmt: skip
        if answered_by:
            params["AnsweredBy"] = answered_by
        return (await self.callback(call.status_callback, params))[0]

    async def sms_status(self, sms: Sms, status: str, error_code: str = "") -> int:
        params = {"MessageSid": sms.sid, "AccountSid": self.account_sid, "From": sms.from_,
                  "To": sms.to, "MessageStatus": status}  # fmt: skip
        if error_code:
            params["ErrorCode"] = error_code
        return (await self.callback(sms.status_callback, params))[0]
