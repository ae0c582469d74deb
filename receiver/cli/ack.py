"""`alert-receiver ack|unack FINGERPRINT --by --comment [--expires]`: acknowledge from a
shell on a machine that reaches the service's Redis (recorded as via "cli")."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from receiver.ack.service import AckOutcome, Acks
from receiver.api.acks import DETAIL, BodyError, parse_body
from receiver.cli.common import global_options, say, takes, with_store
from receiver.server.reload import ack_destinations
from receiver.server.settings import Settings
from receiver.store.keys import Keys


def run(args: argparse.Namespace, settings: Settings) -> int:
    unack = args.command == "unack"
    raw: dict[str, Any] = {"by": args.by, "comment": args.comment}
    if not unack and args.expires:
        raw["expires"] = args.expires
    try:
        body = parse_body(raw, "cli", time.time(), unack)
    except BodyError as e:
        say(f"alert-receiver: {e}", file=sys.stderr)
        return 2

    async def go(acks: Acks) -> int:
        if unack:
            result = await acks.unack(args.fingerprint, body.by, "cli", body.comment)
        else:
            result = await acks.ack(args.fingerprint, body.by, "cli", body.comment,
                                    body.until_ms)  # fmt: skip
        out: dict[str, Any] = {"fingerprint": result.fingerprint,
                               "outcome": result.outcome.value}  # fmt: skip
        if result.ack is not None:
            out["ack"] = result.ack.model_dump()
        if args.json:
            print(json.dumps(out))
        else:
            say(_line(result.outcome, result.alertname, out), keep="")
        return 0 if result.outcome in (AckOutcome.ACKED, AckOutcome.UNACKED,
                                       AckOutcome.ALREADY, AckOutcome.NOT_ACKED) else 1  # fmt: skip

    def make(redis: Any, keys: Keys) -> Acks:
        return Acks(redis, keys, lambda: ack_destinations(settings),
                    lambda: settings.state.history_max)  # fmt: skip

    return asyncio.run(with_store(settings, args.data_dir, make, go))


def _line(outcome: AckOutcome, alertname: str, out: dict[str, Any]) -> str:
    what = f"{out['fingerprint']} ({alertname})" if alertname else out["fingerprint"]
    if outcome.changed:
        return f"{outcome.value} {what}"
    return f"{outcome.value} {what}: {DETAIL[outcome]}"


def add_parsers(sub: Any, func: Callable[[argparse.Namespace], int]) -> None:
    for name, help_ in (("ack", "acknowledge an alert's current episode"),
                        ("unack", "end an alert's acknowledgement")):  # fmt: skip
        p = sub.add_parser(name, help=help_, parents=[global_options()])
        p.add_argument("fingerprint")
        p.add_argument("--by", required=True, help="who (shown in Slack, history, console)")
        p.add_argument("--comment", default="")
        if name == "ack":
            p.add_argument("--expires", help="a duration (30m, 2h) or an RFC 3339 time")
        p.add_argument("--json", action="store_true")
        takes(p, "config", "data_dir")
        p.set_defaults(func=func)
