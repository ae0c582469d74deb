"""Phone numbers and the recipients of phone jobs; pure.

A job for a person's `via: sms` or `via: voice` rule carries one recipient,
"sms:+4915112345678#4821" (the reply code the text asks for, issued by whoever made the
job: receiver/notifiers/sms/codes.py) or "voice:+4915112345678": what to do and where, so
the sms and the voice job of one alert keep records of their own
(receiver/pipeline/routing.record_field).
"""

from __future__ import annotations

import enum
import re

# E.164: "+", a country code not starting with 0, at most 15 digits in all.
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


class Kind(enum.StrEnum):
    SMS = "sms"
    VOICE = "voice"


CODE = re.compile(r"^[0-9]{2,6}$")


def recipient(kind: Kind, phone: str, code: str = "") -> str:
    return f"{kind.value}:{phone}" + (f"#{code}" if code else "")


def parse_recipient(text: str) -> tuple[Kind, str, str] | None:
    """(kind, phone, reply code or "") of a phone job's recipient; None for anything else."""
    kind, _, rest = text.partition(":")
    phone, _, code = rest.partition("#")
    if kind not in (Kind.SMS.value, Kind.VOICE.value) or not E164.fullmatch(phone):
        return None
    if code and not CODE.fullmatch(code):
        return None
    return Kind(kind), phone, code
