"""POST /sms/{receiver} (inbound texts) and /sms/{receiver}/status (delivery status): the
callbacks of a `type: twilio` or `type: vonage` receiver, verified before anything is read.

Twilio signs each callback with X-Twilio-Signature over the URL it was given (the
receiver's `public_url` + the path) and the form parameters
(receiver/notifiers/twilio/verify.py); Vonage with a Bearer JWT, HS256 with the signature
secret, over a hash of the body (receiver/notifiers/vonage/verify.py). Unsigned or forged:
401, nothing read. An inbound text is handled once (its message id claimed in Redis: a
provider's redelivery or a replay changes nothing) by receiver/ack/sms.py and answered
with a text (Twilio: TwiML <Message>; Vonage: a reply through the Messages API on the
shared session). Twilio answers STOP/START/HELP itself on long codes, so those get no
second reply from us there. Trouble with Redis answers 503 (the provider retries).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from redis.exceptions import RedisError
from twilio.twiml.messaging_response import MessagingResponse  # type: ignore[import-untyped]

from receiver.ack.sms import Answer, handle_text
from receiver.api.errors import error
from receiver.api.state import SERVICES, STATE
from receiver.notifiers.base import load_secret
from receiver.notifiers.sms.codes import ReplyCodes
from receiver.notifiers.twilio import verify as twilio_verify
from receiver.notifiers.twilio.config import TwilioConfig
from receiver.notifiers.vonage import verify as vonage_verify
from receiver.notifiers.vonage.api import VonageClient
from receiver.notifiers.vonage.config import VonageConfig

log = logging.getLogger("receiver.sms")
MAX_BODY = 64 * 1024
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
_CARRIER_HANDLED = {"stop", "start", "help"}


@dataclass(frozen=True)
class Phone:
    """What the callbacks need besides the request: the shared session and the clock."""

    session: aiohttp.ClientSession | None
    clock: Callable[[], float] = time.time


PHONE = web.AppKey("phone", Phone)


@dataclass(frozen=True)
class Callback:
    """A verified callback: its provider receiver, config, secret and parameters."""

    name: str
    cfg: TwilioConfig | VonageConfig
    secret: str
    params: dict[str, Any]


def add_routes(app: web.Application, clock: Callable[[], float] = time.time) -> None:
    app[PHONE] = Phone(None, clock)
    app.router.add_post("/sms/{provider}", inbound)
    app.router.add_post("/sms/{provider}/status", status)


def start(app: web.Application, session: aiohttp.ClientSession) -> None:
    """Hands the callbacks the app's shared session (Vonage replies go out on it)."""
    app[PHONE] = Phone(session, app[PHONE].clock)


async def verified(request: web.Request) -> Callback | web.Response:
    """The callback, once its signature holds; else the refusal to answer."""
    name = request.match_info["provider"]
    cfg = request.app[STATE].settings.receivers.get(name)
    if not isinstance(cfg, TwilioConfig | VonageConfig):
        return error(404, "not_configured", f"no twilio or vonage receiver {name!r}")
    if (request.content_length or 0) > MAX_BODY:
        return error(413, "too_large", f"the body is over {MAX_BODY} bytes")
    body = await request.read()
    if isinstance(cfg, TwilioConfig):
        secret, err = load_secret(cfg.auth_token, cfg.auth_token_file)
        form = {k: str(v) for k, v in (await request.post()).items()}
        url = cfg.public_url + request.raw_path  # as sent: the query undecoded
        sig = request.headers.get("X-Twilio-Signature", "")
        ok = not err and twilio_verify.valid(secret, url, form, sig)
        ok = ok and form.get("AccountSid") == cfg.account_sid
        params: dict[str, Any] = form
    else:
        secret, err = load_secret(cfg.signature_secret, cfg.signature_secret_file)
        auth = request.headers.get("Authorization", "")
        now = request.app[PHONE].clock()
        ok = not err and vonage_verify.valid(secret, auth, body, now)
        try:
            params = orjson.loads(body) if ok else {}
        except orjson.JSONDecodeError:
            ok, params = False, {}
        ok = ok and isinstance(params, dict)
    if err:
        log.error("phone callback not handled: %s", err, extra={"receiver": name})
        return error(503, "unavailable", "the provider's secret cannot be read")
    if not ok:
        request.app[STATE].metrics.child(
            request.app[STATE].metrics.phone_callbacks, name, "forged"
        ).inc()
        log.warning("phone callback refused: bad signature", extra={"receiver": name})
        return error(401, "bad_signature", "the callback's signature does not verify")
    return Callback(name, cfg, secret, params)


def _inbound_fields(cb: Callback) -> tuple[str, str, str] | None:
    """(message id, from number in E.164, text)."""
    p = cb.params
    if isinstance(cb.cfg, TwilioConfig):
        sid, phone, text = p.get("MessageSid"), p.get("From"), p.get("Body")
    else:
        sid, phone, text = p.get("message_uuid"), p.get("from"), p.get("text")
        phone = "+" + str(phone).lstrip("+") if phone else phone
    if not (isinstance(sid, str) and sid and isinstance(phone, str) and isinstance(text, str)):
        return None
    return sid, phone, text


async def inbound(request: web.Request) -> web.StreamResponse:
    cb = await verified(request)
    if isinstance(cb, web.Response):
        return cb
    fields = _inbound_fields(cb)
    if fields is None:
        return error(400, "bad_request", "not an inbound text (message id, from, text)")
    sid, phone, text = fields
    state, services = request.app[STATE], request.app[SERVICES]
    codes = ReplyCodes(services.acks.redis, services.acks.keys)
    claimed = False
    try:
        claimed = await codes.first_seen(cb.name, f"in:{sid}")
        if not claimed:
            state.metrics.child(state.metrics.phone_callbacks, cb.name, "replayed").inc()
            return _reply(cb, None)
        people = state.settings.people
        answer = await handle_text(codes, services.acks, phone, text,
                                   lambda p: (people.get(p) or _NOBODY).phone == phone)  # fmt: skip
    except RedisError as e:
        log.error("inbound text not handled: %s", type(e).__name__, extra={"receiver": cb.name})
        if claimed:
            with contextlib.suppress(RedisError):
                await codes.forget_seen(cb.name, f"in:{sid}")
        return error(503, "unavailable", "state store unavailable; retry")
    state.metrics.child(state.metrics.phone_callbacks, cb.name, f"text_{answer.outcome}").inc()
    if isinstance(cb.cfg, VonageConfig):
        await _vonage_reply(request, cb, phone, answer)
    return _reply(cb, answer)


class _Nobody:
    phone: str | None = None


_NOBODY = _Nobody()


def _reply(cb: Callback, answer: Answer | None) -> web.Response:
    if not isinstance(cb.cfg, TwilioConfig):
        return web.json_response({"outcome": answer.outcome if answer else "replayed"})
    if answer is None or answer.outcome in _CARRIER_HANDLED:
        return web.Response(text=EMPTY_TWIML, content_type="text/xml")
    r = MessagingResponse()
    r.message(answer.text)
    return web.Response(text=str(r.to_xml()), content_type="text/xml")


async def _vonage_reply(request: web.Request, cb: Callback, phone: str, answer: Answer) -> None:
    session = request.app[PHONE].session
    cfg = cb.cfg
    assert isinstance(cfg, VonageConfig)
    key, err = load_secret(cfg.private_key, cfg.private_key_file)
    if session is None or err:
        log.error("vonage reply not sent: %s", err or "no session", extra={"receiver": cb.name})
        return
    client = VonageClient(session, cfg.api_url, cfg.application_id, key, cfg.number,
                          cfg.timeout, request.app[PHONE].clock)  # fmt: skip
    result = await client.send_sms(phone, answer.text)
    if not result.ok:
        log.warning("vonage reply not sent", extra={"receiver": cb.name, "detail": result.detail})


async def status(request: web.Request) -> web.Response:
    """A delivery status: counted per provider and status, logged with the message id."""
    cb = await verified(request)
    if isinstance(cb, web.Response):
        return cb
    p = cb.params
    word = str(p.get("MessageStatus") or p.get("CallStatus") or p.get("status") or "unknown")
    ref = str(p.get("MessageSid") or p.get("CallSid") or p.get("message_uuid") or "")
    m = request.app[STATE].metrics
    m.child(m.phone_status, cb.name, word[:32]).inc()
    (log.warning if word in ("failed", "undelivered", "rejected") else log.info)(
        "phone delivery status", extra={"receiver": cb.name, "status": word, "ref": ref,
                                        "error": str(p.get("ErrorCode") or "")})  # fmt: skip
    return web.Response(status=204)
