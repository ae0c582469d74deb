"""`alert-receiver routes test --config FILE NAME=VALUE…`: which routes, destinations and
escalation steps a label set gets, and whom each step would page now.

Offline by design (no secrets needed): on-call overrides are read from Redis only when it
answers within the config's timeouts; otherwise each rotation's scheduled member is shown
and the output says the overrides were not read.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisClusterException, RedisError

from receiver.cli.common import embedded_socket, global_options, redis_client, say, takes
from receiver.escalation.config import EscalationPolicy, Step
from receiver.oncall.schedule import Override, iso, who_is_on_call
from receiver.oncall.store import OverrideStore
from receiver.server.settings import Settings
from receiver.store.keys import Keys

Overrides = dict[str, list[Override]]


def run(args: argparse.Namespace, settings: Settings) -> int:
    from receiver.pipeline.route import format_matches
    from receiver.pipeline.routing import targets_for

    labels: dict[str, str] = {}
    for item in args.labels:
        k, sep, v = item.partition("=")
        if not sep or not k:
            say(f"alert-receiver: label {item!r} is not NAME=VALUE", file=sys.stderr)
            return 2
        labels[k] = v.strip('"')
    tree = settings.routing_tree()
    matches = tree.match(labels)
    say(format_matches(labels, matches))
    dests = [t.destination for t in targets_for(tree, labels, set(settings.receivers))]
    say("destinations: " + (", ".join(dests) or "(none)"))
    name = next((m.escalation for m in matches if m.escalation), None)
    if name is not None and name in settings.escalation_policies:
        policy = settings.escalation_policies[name]
        rotations = sorted({r for s in policy.steps for r in s.rotations})
        now = datetime.now(UTC)
        overrides, unread = asyncio.run(read_overrides(settings, args.data_dir, rotations))
        say("\n".join(escalation_lines(settings, name, policy, overrides, now)))
        if rotations:
            said = "overrides applied"
            if unread:
                said = f"the schedule only, overrides not read ({unread})"
            say(f"  on call as of {iso(now)}: {said}")
    return 0


def escalation_lines(settings: Settings, name: str, policy: EscalationPolicy,
                     overrides: Overrides, now: datetime) -> list[str]:  # fmt: skip
    """The policy's steps, each with what it notifies and who is on call in its rotations."""
    from receiver.config.durations import format_duration

    steps = " / ".join(format_duration(s.after) for s in policy.steps)
    lines = [f"escalation: {name} (steps at {steps})"]
    for i, step in enumerate(policy.steps, 1):
        lines.append(f"  step {i} at {format_duration(step.after)}: "
                     + "; ".join(_step_parts(settings, policy, step, overrides, now)))  # fmt: skip
    if policy.repeat:
        lines.append(f"  then {policy.repeat} more round(s), every "
                     f"{format_duration(policy.repeat_every or 0)}")  # fmt: skip
    return lines


def _step_parts(settings: Settings, policy: EscalationPolicy, step: Step,
                overrides: Overrides, now: datetime) -> list[str]:  # fmt: skip
    # The same choices as the escalation runner makes when the step fires.
    via = policy.email_receiver
    parts = [f"receivers {', '.join(step.receivers)}"] if step.receivers else []
    for rotation in step.rotations:
        rot = settings.oncall.rotations.get(rotation)
        if rot is None:
            parts.append(f"rotation {rotation}: not defined, nobody")
            continue
        shift = who_is_on_call(rot, now, overrides.get(rotation, ()), settings.oncall)
        member = shift.member
        if member.receiver is not None:
            reach = f"receiver {member.receiver}"
        elif via is not None:
            reach = f"{member.email} via {via}"
        else:
            reach = "not notified: no receiver of theirs and no email_receiver"
        why = f", override {shift.override.id}" if shift.override else ""
        parts.append(f"rotation {rotation}: {member.name} on call until {iso(shift.end)}"
                     f"{why} ({reach})")  # fmt: skip
    if step.emails:
        sent = f"via {via}" if via is not None else "not sent: no email_receiver"
        parts.append(f"emails {', '.join(step.emails)} ({sent})")
    return parts


async def read_overrides(settings: Settings, data_dir: str | None,
                         rotations: Sequence[str]) -> tuple[Overrides, str]:  # fmt: skip
    """(the rotations' overrides, "") from the config's Redis, or ({}, why not) when it
    cannot be reached: routes test works offline."""
    if not rotations:
        return {}, ""
    if settings.redis.mode == "embedded" and not embedded_socket(settings, data_dir).exists():
        return {}, f"no embedded Redis at {embedded_socket(settings, data_dir)}: serve not running"
    try:
        redis = redis_client(settings, data_dir)
    except (ValueError, OSError) as e:  # e.g. an unreadable password_file
        return {}, str(e)
    store = OverrideStore(redis, Keys(settings.redis.key_prefix), time.time)
    # A bound of our own on top of the client's timeouts, which its retries multiply.
    limit = settings.redis.connect_timeout + settings.redis.socket_timeout
    try:
        async with asyncio.timeout(limit):
            return {r: await store.list(r) for r in rotations}, ""
    except (RedisError, RedisClusterException, OSError, TimeoutError) as e:
        return {}, f"Redis unavailable: {str(e) or type(e).__name__}"
    finally:
        await redis.aclose()


def add_parser(sub: Any, func: Callable[[argparse.Namespace], int]) -> None:
    r = sub.add_parser("routes", help="routing tree tools: routes test",
                       parents=[global_options()])  # fmt: skip
    rsub = r.add_subparsers(dest="routes_command", required=True, metavar="SUBCOMMAND")
    rt = rsub.add_parser("test", help="which routes, destinations and escalation labels get",
                         parents=[global_options()])  # fmt: skip
    rt.add_argument("labels", nargs="+", metavar="NAME=VALUE")
    takes(rt, "config", "data_dir")
    rt.set_defaults(func=func)
