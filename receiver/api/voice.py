"""POST /voice/{receiver} (a call's keypad, and Vonage's call events) and
/voice/{receiver}/status (Twilio's call status): verified like the SMS callbacks
(receiver/api/sms.py).

The URL a call was given carries the alert, its episode and the person called, with our
MAC over them (receiver/notifiers/sms/job.py): a press acts only on that alert episode, as
that person. 1 acknowledges through the one ack service (`via: voice`): a repeat of the
press, or a replayed callback, finds the ack in force and changes nothing; 3 says the
alert again; anything else says the menu again. A call that was not answered, was busy
or met an answering machine (Twilio AnsweredBy machine_*, Vonage status `machine`) is "not
reached": counted, and the person's next rule runs as for any rule nobody acknowledged.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web
from redis.exceptions import RedisError

from receiver.ack.service import AckOutcome
from receiver.api.errors import error
from receiver.api.sms import Callback, verified
from receiver.api.state import SERVICES, STATE
from receiver.models import AlertSnapshot, Status
from receiver.notifiers.sms.job import keypad_fields
from receiver.notifiers.sms.text import MENU, call_script
from receiver.notifiers.twilio.config import TwilioConfig
from receiver.notifiers.twilio.twiml import call_twiml, say_twiml
from receiver.notifiers.vonage.ncco import call_ncco, say_ncco

log = logging.getLogger("receiver.voice")
VIA = "voice"
_SAY = {
    AckOutcome.ACKED: "Acknowledged. Goodbye.",
    AckOutcome.ALREADY: "It was acknowledged already. Goodbye.",
    AckOutcome.NOT_FIRING: "The alert has resolved. Goodbye.",
    AckOutcome.OTHER_EPISODE: "The alert fired again since this call. Nothing was done.",
    AckOutcome.NOT_FOUND: "The alert is gone. Goodbye.",
}
NOT_REACHED = frozenset({"no-answer", "busy", "unanswered", "timeout", "machine", "rejected",
                         "cancelled", "canceled"})  # fmt: skip


def add_routes(app: web.Application) -> None:
    app.router.add_post("/voice/{provider}", keypad)
    app.router.add_post("/voice/{provider}/status", call_status)


def _digits(cb: Callback) -> str | None:
    if isinstance(cb.cfg, TwilioConfig):
        d = cb.params.get("Digits")
    else:
        dtmf = cb.params.get("dtmf")
        d = dtmf.get("digits") if isinstance(dtmf, dict) else None
    return d if isinstance(d, str) else None


def _answer(request: web.Request, cb: Callback, text: str, again: str = "") -> web.Response:
    """Say `text`; with `again`, the script to say before gathering once more."""
    url = cb.cfg.public_url + request.raw_path
    if isinstance(cb.cfg, TwilioConfig):
        xml = call_twiml(f"{text} {again}".strip(), url) if again else say_twiml(text)
        return web.Response(text=xml, content_type="text/xml")
    ncco: list[dict[str, Any]] = (call_ncco(f"{text} {again}".strip(), url) if again
                                  else say_ncco(text))  # fmt: skip
    return web.Response(body=orjson.dumps(ncco), content_type="application/json")


async def keypad(request: web.Request) -> web.Response:
    cb = await verified(request)
    if isinstance(cb, web.Response):
        return cb
    digits = _digits(cb)
    if digits is None:  # a Vonage call event: its status
        return _count_status(request, cb, str(cb.params.get("status") or "unknown"))
    m = request.app[STATE].metrics
    fields = keypad_fields(request.query, cb.secret)
    if fields is None:
        m.child(m.phone_callbacks, cb.name, "forged").inc()
        return error(403, "bad_call", "the callback's alert fields are missing or forged")
    fp, episode, person = fields
    if request.app[STATE].settings.people.get(person) is None:
        m.child(m.phone_callbacks, cb.name, "key_unknown_person").inc()
        return _answer(request, cb, "You are no longer among the people paged. Goodbye.")
    if not digits:  # the input timed out (Vonage calls back; Twilio goes on in the TwiML)
        m.child(m.phone_callbacks, cb.name, "key_none").inc()
        return _answer(request, cb, "No input. Goodbye.")
    services = request.app[SERVICES]
    try:
        if digits == "1":
            result = await services.acks.ack(fp, person, VIA, starts_at=episode)
            m.child(m.phone_callbacks, cb.name, f"key_{result.outcome.value}").inc()
            log.info("voice ack", extra={"fingerprint": fp, "by": person,
                                         "outcome": result.outcome.value})  # fmt: skip
            return _answer(request, cb, _SAY.get(result.outcome, result.outcome.value))
        if digits == "3":
            rec = await services.reader.get(fp)
            m.child(m.phone_callbacks, cb.name, "key_repeat").inc()
            if rec is None:
                return _answer(request, cb, _SAY[AckOutcome.NOT_FOUND])
            a = AlertSnapshot(fingerprint=fp, status=Status.FIRING, startsAt=episode,
                              labels=rec.get("labels", {}),
                              annotations=rec.get("annotations", {}))  # fmt: skip
            return _answer(request, cb, "", call_script(a))
    except RedisError as e:
        log.error("keypad not handled: %s", type(e).__name__, extra={"receiver": cb.name})
        return error(503, "unavailable", "state store unavailable; retry")
    m.child(m.phone_callbacks, cb.name, "key_other").inc()
    return _answer(request, cb, "", MENU.replace("Press 1", "Please press 1"))


async def call_status(request: web.Request) -> web.Response:
    cb = await verified(request)
    if isinstance(cb, web.Response):
        return cb
    word = str(cb.params.get("CallStatus") or cb.params.get("status") or "unknown")
    if str(cb.params.get("AnsweredBy", "")).startswith("machine"):
        word = "machine"
    return _count_status(request, cb, word)


def _count_status(request: web.Request, cb: Callback, word: str) -> web.Response:
    m = request.app[STATE].metrics
    m.child(m.phone_status, cb.name, word[:32]).inc()
    if word in NOT_REACHED:
        log.info("call did not reach the person", extra={"receiver": cb.name, "status": word})
    return web.Response(status=204)
