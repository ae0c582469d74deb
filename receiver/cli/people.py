"""`alert-receiver people test NAME --via push|email`: send a person a clearly marked test
notification through the receiver their rule would use, and say what happened.

It sends directly (no Redis, no queue): it checks the contact method, the receiver and
its credentials, the way the person's phone or mailbox will see a page. The push carries
no Acknowledge action (there is no alert to acknowledge)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp

from receiver.cli.common import command_group, say
from receiver.models import AlertSnapshot, Notification, PersonPage, Reason, Status
from receiver.notifiers.registry import build_notifier
from receiver.notifiers.render import Renderer
from receiver.people.checks import via_receiver
from receiver.people.config import BUILT, Via
from receiver.server.settings import Settings


def test_notification(person: str, dest: str, recipients: list[str]) -> Notification:
    """A test page for `person`: marked as a test in its labels, summary and route."""
    now = datetime.now(UTC)
    alert = AlertSnapshot(
        fingerprint="people-test", status=Status.FIRING,
        labels={"alertname": "PeopleTest", "severity": "critical", "person": person},
        annotations={"summary": f"TEST notification for {person}: nothing is wrong"},
        startsAt=now.isoformat().replace("+00:00", "Z"),
    )  # fmt: skip
    return Notification(key=f"people-test/{person}/{int(now.timestamp())}", destination=dest,
                        reason=Reason.NEW, alert=alert, route="test", recipients=recipients,
                        person=PersonPage(name=person),
                        enqueued_at_ms=int(time.time() * 1000))  # fmt: skip


def run(args: argparse.Namespace, settings: Settings) -> int:
    person = settings.people.get(args.name)
    if person is None:
        known = ", ".join(sorted(settings.people.persons)) or "none"
        say(f"alert-receiver: no person {args.name!r} (people: {known})", file=sys.stderr)
        return 2
    via = Via(args.via)
    dest = via_receiver(settings.people, settings.receivers, person, via)
    if not person.has(via) or dest is None:
        say(f"alert-receiver: {args.name} cannot be reached via {via.value} "
            "(check-config says why)", file=sys.stderr)  # fmt: skip
        return 1
    if via is Via.PUSH and person.ntfy is not None:
        recipients = [f"{args.name}@{person.ntfy.topic}"]
    else:
        recipients = [person.email or ""]
    n = test_notification(args.name, dest, recipients)

    async def go() -> int:
        async with aiohttp.ClientSession() as session:
            notifier = build_notifier(dest, settings.receivers[dest], session,
                                      Renderer(settings.templates_dir))  # fmt: skip
            try:
                result = await notifier.send(n, {})
            finally:
                await notifier.close()
        say(f"{via.value} to {args.name} through {dest}: {result.outcome.value} "
            f"{result.detail}".rstrip())  # fmt: skip
        return 0 if result.ok else 1

    return asyncio.run(go())


def add_parser(sub: Any, func: Callable[[argparse.Namespace], int]) -> None:
    psub, common = command_group(sub, "people", "people and their notification rules", func)
    t = psub.add_parser("test", parents=[common],
                        help="send a person a clearly marked test notification")  # fmt: skip
    t.add_argument("name", help="a person of the `people` section")
    t.add_argument("--via", required=True, choices=sorted(v.value for v in BUILT))
