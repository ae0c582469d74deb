"""`alert-receiver oncall who|override add|list|remove`: on call from the command line.

Like `dlq`, it talks to the service's Redis with the config (with the embedded Redis,
through the socket of the running `serve`). Times: ISO 8601 or `now`; a time without an
offset is read in the rotation's time zone.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from receiver.cli.common import command_group, global_options, printable_data, say, with_store
from receiver.cli.importer import load_overrides
from receiver.oncall import view
from receiver.oncall.overrides import OverrideError, Request, build_override, parse_time
from receiver.oncall.store import OverrideStore
from receiver.server.settings import Settings
from receiver.store.keys import Keys


def _fail(msg: str, code: int = 1) -> int:
    say(f"alert-receiver: {msg}", file=sys.stderr)
    return code


def _user() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in a bare container
        return "cli"


def run(args: argparse.Namespace, settings: Settings) -> int:
    config = settings.oncall
    names = [args.rotation] if getattr(args, "rotation", None) else sorted(config.rotations)
    unknown = [n for n in names if n not in config.rotations]
    if unknown:
        defined = ", ".join(sorted(config.rotations)) or "none configured"
        return _fail(f"no rotation {unknown[0]!r} (rotations: {defined})", 2)

    async def who(store: OverrideStore) -> int:
        if not names:
            return _fail("no rotations configured (oncall.rotations)", 2)
        statuses = []
        for at_text in args.at or ["now"]:
            for name in names:
                try:
                    at = parse_time(at_text, config.rotations[name].tz, store.now())
                except ValueError as e:
                    return _fail(f"--at: {e}", 2)
                statuses.append(view.rotation_status(config, name, await store.list(name), at))
        if args.json:
            print(json.dumps({"rotations": statuses}, indent=2))
        else:
            # Stored values (an override's reason) escaped before the table lays them out.
            say(view.table(printable_data(statuses), with_next=len(args.at or ["now"]) == 1))
        return 0

    async def add(store: OverrideStore) -> int:
        body: dict[str, Any] = {"who": args.who, "from": args.from_}
        body.update({k: v for k, v in (("email", args.email), ("until", args.until),
                     ("for", args.for_), ("reason", args.reason)) if v is not None})  # fmt: skip
        try:
            o = build_override(body, Request(config, args.rotation, args.by or _user(),
                                             store.now()))  # fmt: skip
        except OverrideError as e:
            for f in e.fields:
                say(f"alert-receiver: {f['field']}: {f['message']}", file=sys.stderr)
            return 2
        if not await store.add(args.rotation, o):
            return _fail(f"rotation {args.rotation} has the most overrides it keeps: remove some")
        if args.json:
            print(json.dumps(o.to_dict(), indent=2))
        else:
            say(f"added {o.id}")
        return 0

    async def listing(store: OverrideStore) -> int:
        rows = [(n, o) for n in names for o in await store.list(n)]
        if args.json:
            print(json.dumps([{"rotation": n, **o.to_dict()} for n, o in rows], indent=2))
            return 0
        say(f"{len(rows)} override(s)")
        for n, o in rows:
            d = o.to_dict()
            say(f"{o.id}  {n}  {o.who}  {d['from']} → {d['until']}  by {o.created_by}"
                + (f": {o.reason}" if o.reason else ""), keep="")  # fmt: skip
        return 0

    async def remove(store: OverrideStore) -> int:
        if await store.remove(args.rotation, args.id):
            say(f"removed {args.id}")
            return 0
        return _fail(f"no override {args.id} in rotation {args.rotation}")

    async def load(store: OverrideStore) -> int:
        return await load_overrides(store, config, args.file, args.by or _user())

    if args.oncall_command == "who":
        fn = who
    else:
        fn = {"add": add, "list": listing, "remove": remove, "load": load}[args.override_command]

    def make(redis: Any, keys: Keys) -> OverrideStore:
        return OverrideStore(redis, keys, time.time)

    return asyncio.run(with_store(settings, args.data_dir, make, fn))


def add_parser(sub: Any, func: Callable[[argparse.Namespace], int]) -> None:
    osub, common = command_group(sub, "oncall", "on-call rotations: who is on call, overrides",
                                 func)  # fmt: skip
    common.add_argument("--json", action="store_true", help="JSON instead of text")
    w = osub.add_parser("who", parents=[common], help="who is on call, and the next hand-offs")
    w.add_argument("--at", action="append", metavar="TIME",
                   help="ISO 8601 or now (default); repeat for several times")  # fmt: skip
    w.add_argument("--rotation", help="only this rotation")
    ov = osub.add_parser("override", help="add, list or remove overrides",
                         parents=[global_options()])  # fmt: skip
    vsub = ov.add_subparsers(dest="override_command", required=True, metavar="ACTION")
    a = vsub.add_parser("add", parents=[common], help="put someone on call for a while")
    a.add_argument("rotation")
    a.add_argument("--who", required=True, help="a member's name, or a stand-in's with --email")
    a.add_argument("--email", help="how to reach a stand-in who is in no rotation")
    a.add_argument("--from", dest="from_", default="now", metavar="TIME", help="default now")
    ends = a.add_mutually_exclusive_group(required=True)
    ends.add_argument("--until", metavar="TIME")
    ends.add_argument("--for", dest="for_", metavar="DURATION", help="e.g. 8h, 2d")
    a.add_argument("--reason")
    a.add_argument("--by", help="recorded as created_by (default cli:<login name>)")
    ls = vsub.add_parser("list", parents=[common], help="overrides not yet ended")
    ls.add_argument("rotation", nargs="?")
    rm = vsub.add_parser("remove", parents=[common], help="delete one override")
    rm.add_argument("rotation")
    rm.add_argument("id")
    ld = vsub.add_parser("load", parents=[common],
                         help="store the overrides `alert-receiver import` wrote")  # fmt: skip
    ld.add_argument("file", type=Path, help="OUT.overrides.json of an import")
    ld.add_argument("--by", help="recorded as created_by (default cli:<login name>)")
