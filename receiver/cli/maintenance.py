"""`alert-receiver maintenance list|add|end`: maintenance windows from the command line.

Like `oncall`, it talks to the service's Redis with the config (with the embedded Redis,
through the socket of the running `serve`); the windows it adds are run-time windows, as
the API's (`POST /api/v1/maintenance`), and apply on every replica within a tick. Times:
RFC 3339, or `now`; a time without an offset is read in --timezone (default UTC).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from receiver.cli.common import command_group, printable, say, with_store
from receiver.config.durations import parse_duration
from receiver.maintenance.gate import Gate
from receiver.maintenance.schedule import end_early
from receiver.maintenance.store import MaintenanceStore
from receiver.maintenance.view import WindowError, build_window, window_dict
from receiver.server.settings import Settings
from receiver.store.keys import Keys


def _user() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in a bare container
        return "cli"


def _time(text: str) -> str:
    return datetime.now(UTC).isoformat() if text == "now" else text


def body_of(args: argparse.Namespace) -> dict[str, Any]:
    """The window `add`'s flags describe, as the API's body."""
    body: dict[str, Any] = {"reason": args.reason or "", "timezone": args.timezone}
    if args.name:
        body["name"] = args.name
    if args.all:
        body["all"] = True
    else:
        body["matchers"] = args.matcher or []
    if args.by:
        body["created_by"] = args.by
    if args.digest:
        body["digest"] = args.digest
    if args.silence:
        body["silence"] = True
    if args.rrule is not None:
        body.update(rrule=args.rrule, duration=args.duration)
        return body
    body["from"] = _time(args.from_)
    if args.for_ is not None:
        try:
            start = datetime.fromisoformat(body["from"])
            length = timedelta(seconds=parse_duration(args.for_))
        except ValueError as e:
            raise WindowError(f"--for/--from: {e}", []) from e
        body["until"] = (start + length).isoformat()
    elif args.until is not None:
        body["until"] = _time(args.until)
    return body


def run(args: argparse.Namespace, settings: Settings) -> int:
    async def go(store: MaintenanceStore) -> int:
        gate = Gate(store, lambda: settings.maintenance.windows)
        await gate.refresh()
        cmd = args.maintenance_command
        if cmd == "list":
            stored = {s.window.key: s for s in await store.runtime()}
            rows = [window_dict(w, store.now_ms(), gate.ended, stored.get(w.key))
                    for w in gate.windows]  # fmt: skip
            if args.json:
                print(json.dumps({"windows": rows}, indent=2))
                return 0
            say(f"{len(rows)} window(s)")
            for r in rows:
                when = (
                    f"in force until {r['in_force']['end']}"
                    if r["in_force"]
                    else f"next {r['next'][0]['start']}"
                    if r["next"]
                    else "no occurrence ahead"
                )
                scope = "all alerts" if r.get("all") else ", ".join(r.get("matchers", []))
                say(
                    printable(
                        f"{r['id']}  {r['name']}  {when}  [{scope}]  by "
                        f"{r.get('created_by', '')}: {r.get('reason', '')}"
                    ),
                    keep="",
                )
            return 0
        if cmd == "add":
            try:
                w = build_window(body_of(args), args.by or _user(), set(settings.digests),
                                 settings.ack.alertmanager_silence is not None)  # fmt: skip
            except WindowError as e:
                for f in e.fields or [{"field": "window", "message": str(e)}]:
                    say(f"alert-receiver: {f['field']}: {f['message']}", file=sys.stderr)
                return 2
            s = await store.add(w, _user())
            if s is None:
                say("alert-receiver: the most run-time windows are kept", file=sys.stderr)
                return 1
            out = window_dict(w, store.now_ms(), gate.ended, s)
            print(json.dumps(out, indent=2) if args.json else f"added {w.key}")
            return 0
        window = next((w for w in gate.windows if w.key == args.id), None)
        if window is None:
            say(f"alert-receiver: no maintenance window {args.id!r}", file=sys.stderr)
            return 1
        what = end_early(window, store.now_ms(), gate.ended)
        if what is None or not await store.end(*what):
            say(f"alert-receiver: window {args.id} has no occurrence in force", file=sys.stderr)
            return 1
        say(f"ended {args.id} ({what[0]})")
        return 0

    def make(redis: Any, keys: Keys) -> MaintenanceStore:
        return MaintenanceStore(redis, keys, time.time)

    return asyncio.run(with_store(settings, args.data_dir, make, go))


def add_parser(sub: Any, func: Callable[[argparse.Namespace], int]) -> None:
    msub, common = command_group(sub, "maintenance", "maintenance windows: list, add, end "
                                 "early", func)  # fmt: skip
    common.add_argument("--json", action="store_true", help="JSON instead of text")
    msub.add_parser("list", parents=[common], help="every window, in force now and next")
    a = msub.add_parser("add", parents=[common], help="add a run-time window")
    scope = a.add_mutually_exclusive_group(required=True)
    scope.add_argument("--matcher", action="append", metavar='NAME="VALUE"',
                       help="Alertmanager matcher; repeat: all must match")  # fmt: skip
    scope.add_argument("--all", action="store_true", help="every alert")
    a.add_argument("--name", help="shown in the alerts API and the console")
    a.add_argument("--reason")
    a.add_argument("--by", help="recorded as created_by (default cli:<login name>)")
    a.add_argument("--from", dest="from_", default="now", metavar="TIME", help="default now")
    ends = a.add_mutually_exclusive_group(required=True)
    ends.add_argument("--until", metavar="TIME")
    ends.add_argument("--for", dest="for_", metavar="DURATION", help="e.g. 2h, 30m")
    ends.add_argument("--rrule", help="recurring: an iCalendar RRULE (with --duration)")
    a.add_argument("--duration", help="each occurrence's length (with --rrule)")
    a.add_argument("--timezone", default="UTC", help="the rule's and bare times' zone")
    a.add_argument("--digest", help="send matching alerts to this digest instead")
    a.add_argument("--silence", action="store_true",
                   help="also an Alertmanager silence (ack.alertmanager_silence)")  # fmt: skip
    e = msub.add_parser("end", parents=[common], help="end a window's occurrence now")
    e.add_argument("id", help="a run-time window's id (rt-…) or a configured window's name")
