"""Opsgenie API v2 objects as the import reads them (an unknown key is an error: see
model.VendorModel). Shapes from https://docs.opsgenie.com/docs/user-api,
https://docs.opsgenie.com/docs/user-contact-api,
https://docs.opsgenie.com/docs/notification-rule-api, https://docs.opsgenie.com/docs/schedule-api,
https://docs.opsgenie.com/docs/schedule-override-api, https://docs.opsgenie.com/docs/escalation-api,
https://docs.opsgenie.com/docs/team-api."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from receiver.importers.model import VendorModel

UNIT_S = {"minutes": 60, "hours": 3600, "days": 86400}


class Recipient(VendorModel):
    type: str
    id: str | None = None
    username: str | None = None
    name: str | None = None


class Range(VendorModel):
    startDay: str | None = None
    endDay: str | None = None
    startHour: int
    startMin: int = 0
    endHour: int
    endMin: int = 0


class TimeRestriction(VendorModel):
    type: str
    restriction: Range | None = None
    restrictions: list[Range] | None = None


class Rotation(VendorModel):
    id: str
    name: str = ""
    startDate: datetime
    endDate: datetime | None = None
    type: str
    length: int = 1
    participants: list[Recipient]
    timeRestriction: TimeRestriction | None = None


class Schedule(VendorModel):
    id: str
    name: str
    description: str = ""
    timezone: str = "UTC"
    enabled: bool = True
    ownerTeam: dict[str, Any] | None = None
    rotations: list[Rotation] = []


class Contact(VendorModel):
    id: str
    method: str
    to: str
    status: dict[str, Any] | None = None
    applyOrder: int | None = None


class Amount(VendorModel):
    timeAmount: int
    timeUnit: str = "minutes"

    @property
    def seconds(self) -> int:
        return self.timeAmount * UNIT_S.get(self.timeUnit, 60)


class Step(VendorModel):
    id: str
    sendAfter: Amount | None = None
    contact: dict[str, str]
    enabled: bool = True


class Rule(VendorModel):
    id: str
    name: str = ""
    actionType: str
    order: int = 0
    enabled: bool = True
    notificationTime: list[str] | None = None
    timeRestriction: TimeRestriction | None = None
    criteria: dict[str, Any] | None = None
    schedules: list[Any] | None = None
    repeat: dict[str, Any] | None = None
    steps: list[Step] = []


class User(VendorModel):
    id: str
    username: str
    fullName: str = ""
    role: dict[str, Any] | None = None
    timeZone: str = "UTC"
    locale: str | None = None
    blocked: bool = False
    verified: bool = True
    createdAt: str | None = None
    userAddress: dict[str, Any] | None = None
    tags: list[str] = []
    details: dict[str, Any] = {}


class Override(VendorModel):
    alias: str
    user: Recipient
    startDate: datetime
    endDate: datetime
    rotations: list[dict[str, Any]] = []


class EscalationRule(VendorModel):
    condition: str
    notifyType: str = "default"
    delay: Amount
    recipient: Recipient


class Escalation(VendorModel):
    id: str
    name: str
    description: str = ""
    ownerTeam: dict[str, Any] | None = None
    rules: list[EscalationRule]
    repeat: dict[str, Any] | None = None


class Team(VendorModel):
    id: str
    name: str
    description: str = ""
    links: dict[str, Any] | None = None
