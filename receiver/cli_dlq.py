"""`alert-receiver dlq list|show|replay|purge`: dead letters from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError

from receiver.settings import Settings
from receiver.store.connection import connect
from receiver.store.dlq import DeadLetters
from receiver.store.keys import Keys
from receiver.store.scripts import Scripts


def _client(settings: Settings, data_dir: str | None) -> Any:
    if settings.redis.mode != "embedded":
        return connect(settings.redis)
    sock = Path(data_dir or settings.data_dir).resolve() / "redis.sock"
    if not sock.exists():
        raise SystemExit(
            f"alert-receiver: no embedded Redis at {sock}: is `serve` running with this "
            "--data-dir? (the embedded Redis lives only while the service runs)"
        )
    return connect(settings.redis, f"unix://{sock}")


async def _with_dlq(settings: Settings, data_dir: str | None,
                    fn: Callable[[DeadLetters], Awaitable[int]]) -> int:  # fmt: skip
    redis = _client(settings, data_dir)
    try:
        return await fn(DeadLetters(redis, Keys(settings.redis.key_prefix),
                                    Scripts.register(redis), time.time))  # fmt: skip
    except RedisError as e:
        print(f"alert-receiver: Redis unavailable: {e}", file=sys.stderr)
        return 1
    finally:
        await redis.aclose()


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def run(args: argparse.Namespace, settings: Settings) -> int:
    async def go(dlq: DeadLetters) -> int:
        if args.dlq_command == "list":
            rows = await dlq.list(args.limit)
            if args.json:
                print(json.dumps([r.to_dict() for r in rows], indent=2))
                return 0
            print(f"{await dlq.size()} dead letter(s)")
            for r in rows:
                d = r.to_dict()
                print(f"{r.id}  {_when(r.at_ms)}  {d['destination']}  {d['alertname']} "
                      f"({d['fingerprint']}, {d['reason']})  {r.outcome}: {r.error}")  # fmt: skip
            return 0
        if args.dlq_command == "show":
            dl = await dlq.get(args.id)
            if dl is None:
                print(f"alert-receiver: no dead letter {args.id}", file=sys.stderr)
                return 1
            print(json.dumps({**dl.to_dict(), "job": json.loads(dl.job or "null")}, indent=2))
            return 0
        if args.dlq_command == "replay":
            if args.all:
                print(f"replayed {await dlq.replay_all()}")
                return 0
            if not args.id:
                print("alert-receiver: dlq replay needs an ID or --all", file=sys.stderr)
                return 2
            ok = await dlq.replay(args.id)
            print(f"replayed {args.id}" if ok else f"no dead letter {args.id}")
            return 0 if ok else 1
        if not args.yes:
            print("alert-receiver: dlq purge deletes every dead letter; add --yes", file=sys.stderr)
            return 2
        print(f"purged {await dlq.purge()}")
        return 0

    return asyncio.run(_with_dlq(settings, args.data_dir, go))


def add_parser(sub: Any, func: Callable[[argparse.Namespace], int]) -> None:
    # --config and --data-dir are accepted before the subcommand (`dlq --config X list`) and
    # after it (`dlq list --config X`). The subcommands' copies default to SUPPRESS so an
    # absent one leaves the value given before the subcommand alone.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS, help="config file (YAML)")
    common.add_argument("--data-dir", default=argparse.SUPPRESS,
                        help="the serve --data-dir (embedded Redis)")  # fmt: skip
    d = sub.add_parser("dlq", help="dead letters: list, show, replay, purge")
    d.add_argument("--config", help="config file (YAML); also accepted after the subcommand")
    d.add_argument("--data-dir", help="the serve --data-dir (embedded Redis)")
    dsub = d.add_subparsers(dest="dlq_command", required=True, metavar="SUBCOMMAND")
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

    def checked(args: argparse.Namespace) -> int:
        if not args.config:
            d.error("the following arguments are required: --config")
        return func(args)

    d.set_defaults(func=checked)
