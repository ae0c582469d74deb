"""`alert-receiver slo report [--window 30d] [--json]`: service SLOs from the command line,
read from the service's Redis."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from receiver.cli.common import command_group, say, with_store
from receiver.config.durations import parse_duration, within
from receiver.server.settings import Settings
from receiver.slo.config import WINDOW_RANGE
from receiver.slo.report import report, table
from receiver.slo.store import SloStore
from receiver.store.keys import Keys


def run(args: argparse.Namespace, settings: Settings) -> int:
    window = None
    if args.window:
        try:
            window = within(parse_duration(args.window), *WINDOW_RANGE, "window")
        except ValueError as e:
            say(f"alert-receiver: --window: {e}", file=sys.stderr)
            return 2
    if not settings.slo.services:
        say("alert-receiver: no SLO services configured (slo.services)", file=sys.stderr)
        return 1

    async def go(store: SloStore) -> int:
        rows = await report(store, settings.slo, window)
        if args.json:
            print(json.dumps({"services": rows}, indent=2))
        else:
            say(table(rows))
        return 0

    def make(redis: Any, keys: Keys) -> SloStore:
        return SloStore(redis, keys, time.time)

    return asyncio.run(with_store(settings, args.data_dir, make, go))


def add_parser(sub: Any, func: Callable[[argparse.Namespace], int]) -> None:
    ssub, common = command_group(sub, "slo", "service SLOs and error budgets", func)
    rp = ssub.add_parser("report", parents=[common],
                         help="availability, error budget and burn rate per service")  # fmt: skip
    rp.add_argument("--window", help="over this window (e.g. 7d) instead of each service's own")
    rp.add_argument("--json", action="store_true")
