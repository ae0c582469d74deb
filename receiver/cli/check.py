"""`alert-receiver check-config CONFIG [--no-secrets]`: validate a config and print a
summary (what serve would refuse, this refuses the same way)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from receiver.cli.common import global_options, load_or_exit, say, takes
from receiver.config.durations import format_duration
from receiver.pipeline.route import format_tree
from receiver.server.settings import Settings
from receiver.slo.config import window_text


def summary(settings: Settings) -> str:
    r = settings.redis
    where = {"embedded": f"embedded redis-server in {settings.data_dir}", "url": r.url or "",
             "sentinel": f"sentinel {','.join(r.sentinels)} master {r.master_name}",
             "cluster": f"cluster via {r.url}"}[r.mode]  # fmt: skip
    auth = "none (explicitly off)" if settings.auth == "none" else "bearer/basic"
    lines = [
        f"listen:    {settings.listen}",
        f"auth:      {auth}",
        f"redis:     {r.mode}: {where} (key prefix {r.key_prefix})",
        f"receivers: {len(settings.receivers)}",
    ]
    lines += [f"  - {name} ({cfg.type})" for name, cfg in sorted(settings.receivers.items())]
    default = " (built-in severity defaults)" if settings.route is None else ""
    lines.append(f"routes{default}:")
    lines += ["  " + line for line in format_tree(settings.routing_tree()).splitlines()]
    if settings.escalation_policies:
        lines.append("escalation policies:")
    for name, p in sorted(settings.escalation_policies.items()):
        steps = " / ".join(format_duration(s.after) for s in p.steps)
        rounds = f", {p.repeat + 1} rounds every {format_duration(p.repeat_every or 0)}"
        lines.append(f"  - {name}: steps at {steps}{rounds if p.repeat else ''}")
    for name, svc in sorted(settings.slo.services.items()):
        lines.append(f"slo {name}: {svc.objective:g}% over {window_text(svc.window)}, "
                     f"notify {', '.join(svc.notify) or 'none'}")  # fmt: skip
    for name, hb in sorted(settings.heartbeats.items()):
        lines.append(f"heartbeat {name}: timeout {format_duration(hb.timeout)}, "
                     f"notify {', '.join(hb.notify)}")  # fmt: skip
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    settings = load_or_exit(args.config, secrets=not args.no_secrets)
    say(summary(settings))
    for w in settings.warnings():
        say(f"{args.config}: warning: {w}", file=sys.stderr)
    say("config OK" + (" (secrets not checked)" if args.no_secrets else ""))
    return 0


def add_parser(sub: Any, func: Callable[[argparse.Namespace], int]) -> None:
    c = sub.add_parser("check-config", help="validate a config and print a summary",
                       parents=[global_options(data_dir=None)])  # fmt: skip
    c.add_argument("config", nargs="?", default=argparse.SUPPRESS, metavar="CONFIG",
                   help="config file (YAML), or give it with --config")  # fmt: skip
    c.add_argument("--no-secrets", action="store_true",
                   help="offline: unset ${VARS} and secret files are not needed")  # fmt: skip
    takes(c, "config", missing="CONFIG (or --config)")
    c.set_defaults(func=func)
