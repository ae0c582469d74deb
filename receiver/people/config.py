"""The `people` config section: people, their contact methods and notification rules.

    people:
      defaults:                       # for every person without rules of their own
        notify: [{after: 0s, via: push}, {after: 5m, via: email}]
        push_receiver: ntfy           # the `type: ntfy` receiver pushes go through
        email_receiver: email-oncall  # the receiver that mails people
      alice:
        email: alice@example.com
        slack: U012ABCDEF
        phone: "+4915112345678"
        ntfy: {topic: alice-pager-7f3a}     # optionally `receiver:` (her own server/token)
        timezone: Europe/Berlin
        notify: [{after: 0s, via: push}, {after: 30s, via: email}]

A rotation member or an escalation step can name a person (`members: [alice]`, step
`people: [alice]`). When a person is paged, their rules run: each fires `after` the page,
once across replicas, until someone acknowledges the alert (receiver/people/runner.py).
`defaults` is a reserved name (no person is called that): one section holds everything
about people, and a person's rules read next to the default ones.
"""

from __future__ import annotations

import enum
import itertools
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from receiver.config.durations import Duration, format_duration
from receiver.config.loader import StrictModel
from receiver.config.zones import TimeZoneName
from receiver.notifiers.sms.phone import E164 as PHONE
from receiver.oncall.config import EMAIL

# People's names appear in URLs (/api/v1/people), Redis keys and push recipients
# ("alice@topic"): no "@", ":", spaces.
PERSON_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# ntfy's topic rule (https://docs.ntfy.sh/publish/: "[-_A-Za-z0-9]{1,64}").
NTFY_TOPIC = r"^[-_A-Za-z0-9]{1,64}$"
E164 = PHONE.pattern  # one spelling: receiver/notifiers/sms/phone.py
SLACK_USER = r"^[UW][A-Z0-9]{2,}$"
MAX_RULES = 10


class Via(enum.StrEnum):
    """How a rule reaches its person. Doubles as a metric label."""

    PUSH = "push"
    EMAIL = "email"
    SLACK = "slack"
    SMS = "sms"
    VOICE = "voice"


# What runs today; check-config refuses the others with "not built yet".
BUILT = frozenset({Via.PUSH, Via.EMAIL, Via.SLACK})
NOT_BUILT = {
    Via.SMS: "not built yet (SMS comes with issue 24)",
    Via.VOICE: "not built yet (voice calls come with issue 24)",
}


class Rule(StrictModel):
    """One notification rule: reach the person `via` a contact method, `after` the page."""

    after: Duration = 0.0
    via: Via


def _ordered(v: list[Rule]) -> list[Rule]:
    if len(v) > MAX_RULES:
        raise ValueError(f"at most {MAX_RULES} rules")
    for a, b in itertools.pairwise(v):
        if b.after < a.after:
            raise ValueError(
                f"rules must be in order of `after`: {format_duration(b.after)} comes after "
                f"{format_duration(a.after)}"
            )
    return v


class NtfyContact(StrictModel):
    """Where a person's pushes go: their topic, on the push receiver or their own."""

    topic: str = Field(pattern=NTFY_TOPIC)
    # A `type: ntfy` receiver of their own (their server, their token); else the default.
    receiver: str | None = None


class Person(StrictModel):
    email: str | None = None
    slack: str | None = Field(None, pattern=SLACK_USER)
    phone: str | None = Field(None, pattern=E164)
    ntfy: NtfyContact | None = None
    timezone: TimeZoneName = "UTC"
    notify: list[Rule] | None = None  # None: the section's defaults

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is not None and not EMAIL.fullmatch(v):
            raise ValueError(f"not an email address: {v!r}")
        return v

    @field_validator("notify")
    @classmethod
    def _rules(cls, v: list[Rule] | None) -> list[Rule] | None:
        return None if v is None else _ordered(v)

    def has(self, via: Via) -> bool:
        """Whether the person has the contact method a rule `via` needs."""
        have = {Via.PUSH: self.ntfy, Via.EMAIL: self.email, Via.SLACK: self.slack,
                Via.SMS: self.phone, Via.VOICE: self.phone}  # fmt: skip
        return have[via] is not None

    def masked(self) -> dict[str, Any]:
        """The contact methods as shown to readers: the phone number masked."""
        out: dict[str, Any] = {"email": self.email, "slack": self.slack,
                               "phone": mask_phone(self.phone), "timezone": self.timezone,
                               "ntfy": self.ntfy.model_dump() if self.ntfy else None}  # fmt: skip
        return out


def mask_phone(phone: str | None) -> str | None:
    """+4915112345678 → +49•••••••5678: enough to recognise, not to dial."""
    if phone is None:
        return None
    return phone[:3] + "•" * max(0, len(phone) - 7) + phone[-4:]


class PeopleDefaults(StrictModel):
    notify: list[Rule] = Field(default_factory=list)
    push_receiver: str | None = None  # default: the only `type: ntfy` receiver
    email_receiver: str | None = None  # default: the only receiver that mails
    slack_receiver: str | None = None  # default: the only Slack receiver with a bot token

    @field_validator("notify")
    @classmethod
    def _rules(cls, v: list[Rule]) -> list[Rule]:
        return _ordered(v)


class PeopleConfig(BaseModel):
    """`defaults` and every other key a person (typed extras: errors are located at
    people.<name>.<field>)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, Person] = Field(init=False)

    defaults: PeopleDefaults = Field(default_factory=PeopleDefaults)

    @property
    def persons(self) -> dict[str, Person]:
        return dict(self.__pydantic_extra__ or {})

    def get(self, name: str) -> Person | None:
        return (self.__pydantic_extra__ or {}).get(name)

    def rules(self, name: str) -> list[Rule]:
        """The person's rules: their own, else the defaults ([] for nobody)."""
        p = self.get(name)
        if p is None:
            return []
        return p.notify if p.notify is not None else self.defaults.notify
