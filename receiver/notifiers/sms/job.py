"""What a phone job asks of a provider, whichever it is: a text (its words) or a call (its
script and the callback URLs), from the Notification; pure. The provider notifiers
(twilio/notifier.py, vonage/notifier.py) only carry it out."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from receiver.models import Notification
from receiver.notifiers.render import is_resolved
from receiver.notifiers.sms.phone import Kind, parse_recipient
from receiver.notifiers.sms.text import alert_text, bundle_text, call_script, resolved_text


@dataclass(frozen=True)
class PhoneJob:
    kind: Kind
    phone: str
    person: str
    text: str  # the SMS body, or what the call says before its menu
    resolved: bool
    test: bool


def phone_job(n: Notification) -> PhoneJob | str:
    """The job, or why there is none (the text of an invalid-config result)."""
    if len(n.recipients) != 1 or (parsed := parse_recipient(n.recipients[0])) is None:
        return "a phone job needs one recipient like sms:+4915112345678#4821 (a person's rule)"
    kind, phone, code = parsed
    person = n.person.name if n.person is not None else ""
    test, resolved = n.route == "test", is_resolved(n)
    if kind is Kind.VOICE:
        return PhoneJob(kind, phone, person, call_script(n.alert, test), resolved, test)
    if resolved:
        text = resolved_text(n.alert)
    elif n.summary_of:
        text = bundle_text(n.summary_of, code)
    else:
        text = alert_text(n.alert, code, test)
    return PhoneJob(kind, phone, person, text, resolved, test)


_FIELDS = ("fp", "ep", "person")
_CONTEXT = b"alert-receiver keypad v1\n"


def _mac(secret: str, fields: Mapping[str, str]) -> str:
    msg = _CONTEXT + "\n".join(fields.get(f, "") for f in _FIELDS).encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def keypad_query(n: Notification, person: str, secret: str) -> str:
    """The query a call's callbacks carry: which alert episode, whom it called, and our
    MAC over them (keyed by the provider's secret): Twilio signs the URL it calls, but
    Vonage's signature covers only the body, so the query must vouch for itself."""
    fields = {"fp": n.alert.fingerprint, "ep": n.alert.startsAt, "person": person}
    return urlencode({**fields, "sig": _mac(secret, fields)})


def keypad_fields(query: Mapping[str, str], secret: str) -> tuple[str, str, str] | None:
    """(fingerprint, startsAt, person) of a genuine callback query; None otherwise."""
    if not secret or not all(query.get(f) for f in ("fp", "person", "sig")):
        return None
    if not hmac.compare_digest(_mac(secret, query), query["sig"]):
        return None
    return query["fp"], query.get("ep", ""), query["person"]
