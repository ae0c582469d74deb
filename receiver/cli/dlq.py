"""`alert-receiver dlq list|show|replay|purge`: dead letters from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from receiver.cli.common import command_group, say, with_store
from receiver.server.settings import Settings
from receiver.store.dlq import DeadLetters
from receiver.store.keys import Keys
from receiver.store.scripts import Scripts


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def run(args: argparse.Namespace, settings: Settings) -> int:
    async def go(dlq: DeadLetters) -> int:
        if args.dlq_command == "list":
            rows = await dlq.list(args.limit)
            if args.json:
                print(json.dumps([r.to_dict() for r in rows], indent=2))
                return 0
            say(f"{await dlq.size()} dead letter(s)")
            for r in rows:
                d = r.to_dict()
                say(f"{r.id}  {_when(r.at_ms)}  {d['destination']}  {d['alertname']} "
                    f"({d['fingerprint']}, {d['reason']})  {r.outcome}: {r.error}",
                    keep="")  # fmt: skip
            return 0
        if args.dlq_command == "show":
            dl = await dlq.get(args.id)
            if dl is None:
                say(f"alert-receiver: no dead letter {args.id}", file=sys.stderr)
                return 1
            print(json.dumps({**dl.to_dict(), "job": json.loads(dl.job or "null")}, indent=2))
            return 0
        if args.dlq_command == "replay":
            if args.all:
                say(f"replayed {await dlq.replay_all()}")
                return 0
            if not args.id:
                say("alert-receiver: dlq replay needs an ID or --all", file=sys.stderr)
                return 2
            ok = await dlq.replay(args.id)
            say(f"replayed {args.id}" if ok else f"no dead letter {args.id}")
            return 0 if ok else 1
        if not args.yes:
            say("alert-receiver: dlq purge deletes every dead letter; add --yes", file=sys.stderr)
            return 2
        say(f"purged {await dlq.purge()}")
        return 0

    def make(redis: Any, keys: Keys) -> DeadLetters:
        return DeadLetters(redis, keys, Scripts.register(redis), time.time)

    return asyncio.run(with_store(settings, args.data_dir, make, go))


def add_parser(sub: Any, func: Callable[[argparse.Namespace], int]) -> None:
    dsub, common = command_group(sub, "dlq", "dead letters: list, show, replay, purge", func)
    ls = dsub.add_parser("list", parents=[common], help="list dead letters, oldest first")
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("--json", action="store_true")
    sh = dsub.add_parser("show", parents=[common], help="one dead letter with its job")
    sh.add_argument("id")
    rp = dsub.add_parser("replay", parents=[common], help="send dead letters again (once each)")
    rp.add_argument("id", nargs="?")
    rp.add_argument("--all", action="store_true")
    pg = dsub.add_parser("purge", parents=[common], help="delete every dead letter")
    pg.add_argument("--yes", action="store_true")
