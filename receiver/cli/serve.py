"""`alert-receiver serve`: the service itself, until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from receiver import logs
from receiver.cli.common import EXIT_CONFIG, global_options, load_or_exit, say, takes

EXIT_FAILED = 3  # serve stopped itself: a part it cannot run without could not recover

SERVE_DATA_DIR = ("where the embedded Redis keeps its files (default: the config's data_dir, "
                  "itself ./data unless set)")  # fmt: skip


def _event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where installed (it roughly halves the per-request cost), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a declared dependency on Linux
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(args: argparse.Namespace) -> int:
    # The server (aiohttp and every subsystem) is imported only by the command that runs it.
    from receiver.server import serving
    from receiver.server.app import create_app
    from receiver.store.durability import DurabilityRefused
    from receiver.store.embedded import EmbeddedRedisError

    try:  # a bad $ALERT_RECEIVER_LOG_LEVEL fails before anything else
        logs.choose_level(args.log_level, "info")
    except ValueError as e:
        say(f"alert-receiver: {e}", file=sys.stderr)
        return EXIT_CONFIG
    overrides = {"listen": args.listen} if args.listen else None
    settings = load_or_exit(args.config, overrides)
    level, source = logs.choose_level(args.log_level, settings.log_level)
    logs.setup(level)
    log = logging.getLogger("receiver.serve")
    log.debug("log level", extra={"log_level": level, "from": source})
    for w in settings.warnings():
        logging.getLogger("receiver.config").warning(w)
    host, port = settings.host_port
    # SIGHUP and POST /-/reload re-read this file, with the same command-line overrides.
    app = create_app(settings, data_dir=args.data_dir, config_path=args.config,
                     overrides=overrides, log_level_flag=args.log_level)  # fmt: skip
    # Everything loaded so far lives for the whole run: keep it out of the collector's
    # scans, and collect the young generation less often (request handling allocates a
    # lot of short-lived objects; fewer collections mean fewer latency spikes).
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    try:
        # Until SIGTERM/SIGINT: stop accepting, finish in-flight requests (up to
        # shutdown_timeout), then the cleanup contexts stop workers and the embedded Redis.
        serving.run(app, host, port, config=os.path.abspath(args.config), shutdown_timeout=10,
                    loop_factory=_event_loop)  # fmt: skip
    except (EmbeddedRedisError, DurabilityRefused) as e:
        say(f"alert-receiver: {e}", file=sys.stderr)
        return 1
    except serving.ServiceFailed as e:
        # Could not recover by itself: non-zero, for systemd/Kubernetes to restart us.
        say(f"alert-receiver: {e}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as e:
        say(f"alert-receiver: cannot listen on {settings.listen}: {e.strerror}", file=sys.stderr)
        return 1
    return 0


def add_parser(sub: Any, func: Callable[[argparse.Namespace], int]) -> None:
    s = sub.add_parser("serve", help="run the service",
                       parents=[global_options(data_dir=SERVE_DATA_DIR)])  # fmt: skip
    s.add_argument("--listen", help="HOST:PORT, overrides the config's listen")
    s.add_argument(
        "--log-level",
        choices=logs.LEVELS,
        help=f"overrides ${logs.LEVEL_ENV}, which overrides the config's log_level",
    )
    takes(s, "config", "data_dir")
    s.set_defaults(func=func)
