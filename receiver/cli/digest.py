"""`alert-receiver digest list|preview|flush`: digests from the command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from receiver.cli.common import LAYOUT, command_group, printable, say, with_store
from receiver.digest.flusher import DigestFlusher
from receiver.digest.render import DigestRenderer
from receiver.digest.store import DigestStore
from receiver.digest.view import build_view
from receiver.metrics import Metrics
from receiver.server.settings import Settings
from receiver.store.keys import Keys
from receiver.store.scripts import Scripts

# Exit status of `digest flush` when no running service sent the email within --wait.
NOT_SENT_YET = 3


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


async def preview(store: DigestStore, settings: Settings, name: str) -> str:
    """The text part of the email the next flush of `name` would send, as of now."""
    cfg = settings.digests[name]
    now = time.time()
    items, more = await store.buffered(name)
    states = await store.states(list(items))
    window = (cfg.schedule().last_end(now), now)
    view = build_view(name, items, more, states, window, cfg.timezone, cfg.include_resolved)
    return DigestRenderer().text(view)


async def flush(store: DigestStore, settings: Settings, name: str, wait_s: float) -> int:
    flusher = DigestFlusher(store, lambda: settings.digests, Metrics(), time.time,
                            settings.workers.max_age)  # fmt: skip
    result, window_ms = await flusher.flush_now(name)
    if result == "empty":
        say(f"digest {name}: nothing buffered (send_empty is off): nothing to send")
        return 0
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if await store.status(name, window_ms) == "sent":
            say(f"digest {name}: sent (window ending {_iso(window_ms / 1000)})")
            return 0
        await asyncio.sleep(0.2)
    say(f"digest {name}: queued, not sent within {wait_s:g}s: a running `alert-receiver "
        "serve` on this Redis sends it", file=sys.stderr)  # fmt: skip
    return NOT_SENT_YET


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.digest_command != "list" and args.name not in settings.digests:
        known = ", ".join(sorted(settings.digests)) or "none"
        say(f"alert-receiver: no digest {args.name!r} in the config (defined: {known})",
            file=sys.stderr)  # fmt: skip
        return 2

    async def go(store: DigestStore) -> int:
        if args.digest_command == "preview":
            sys.stdout.write(printable(await preview(store, settings, args.name), LAYOUT))
            return 0
        if args.digest_command == "flush":
            return await flush(store, settings, args.name, args.wait)
        now = time.time()
        for name, cfg in sorted(settings.digests.items()):
            buffered, more = await store.pending(name)
            due = _iso(cfg.schedule().next_end(now))
            say(f"{name}  {buffered} buffered" + (f" (+{more} over max)" if more else "")
                + f"  next {due}")  # fmt: skip
        return 0

    def make(redis: Any, keys: Keys) -> DigestStore:
        return DigestStore(redis, keys, Scripts.register(redis))

    return asyncio.run(with_store(settings, args.data_dir, make, go))


def add_parser(sub: Any, func: Callable[[argparse.Namespace], int]) -> None:
    dsub, common = command_group(sub, "digest", "digests: list, preview, flush", func)
    dsub.add_parser("list", parents=[common], help="each digest's buffer and next send")
    pv = dsub.add_parser("preview", parents=[common],
                         help="print the next digest's text without sending it")  # fmt: skip
    pv.add_argument("name")
    fl = dsub.add_parser("flush", parents=[common], help="send the digest now")
    fl.add_argument("name")
    fl.add_argument("--wait", type=float, default=30.0,
                    help="seconds to wait for a running service to send it")  # fmt: skip
