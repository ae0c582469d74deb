"""The `alert-receiver` command: the service itself, and the tools that check its config and
operate it from a shell. `--config` and `--data-dir` go before or after the command."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from receiver import __version__
from receiver.cli_common import check_global_options, global_options, say, takes
from receiver.config_check import load_settings
from receiver.config_loader import ConfigError
from receiver.settings import Settings

EXIT_CONFIG = 2
EXIT_FAILED = 3  # serve stopped itself: a part it cannot run without could not recover


def _load(path: str, overrides: dict[str, Any] | None = None, secrets: bool = True) -> Settings:
    """The checked settings, or every problem on stderr and exit 2 (serve and check-config
    go through here: whatever serve refuses, check-config refuses the same way)."""
    unset: list[str] = []
    try:
        settings = load_settings(path, overrides, secrets=secrets, unset=unset)
    except ConfigError as e:
        for issue in e.issues:
            say(str(issue), file=sys.stderr)
        n = len(e.issues)
        say(f"{path}: {n} error{'s' if n != 1 else ''}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None
    if unset:
        say(f"{path}: not checked offline (unset): {', '.join(unset)}", file=sys.stderr)
    return settings


def _event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where installed (it roughly halves the per-request cost), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a declared dependency on Linux
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    from receiver import logs, serving
    from receiver.app import create_app
    from receiver.store.durability import DurabilityRefused
    from receiver.store.embedded import EmbeddedRedisError

    try:  # a bad $ALERT_RECEIVER_LOG_LEVEL fails before anything else
        logs.choose_level(args.log_level, "info")
    except ValueError as e:
        say(f"alert-receiver: {e}", file=sys.stderr)
        return EXIT_CONFIG
    overrides = {"listen": args.listen} if args.listen else None
    settings = _load(args.config, overrides)
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


def summary(settings: Settings) -> str:
    from receiver.durations import format_duration
    from receiver.pipeline.route import format_tree
    from receiver.slo.config import window_text

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


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = _load(args.config, secrets=not args.no_secrets)
    say(summary(settings))
    for w in settings.warnings():
        say(f"{args.config}: warning: {w}", file=sys.stderr)
    say("config OK" + (" (secrets not checked)" if args.no_secrets else ""))
    return 0


def cmd_routes_test(args: argparse.Namespace) -> int:
    from receiver import cli_routes

    return cli_routes.run(args, _load(args.config, secrets=False))  # routing needs no secrets


def sample_body(severity: str, status: str = "firing", count: int = 1) -> dict[str, Any]:
    """A realistic Alertmanager v4 body, shaped like the captured fixtures."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    name = {"critical": "HighErrorRate", "warning": "DiskSpaceLow"}.get(severity, "InfoNotice")
    alerts = []
    for i in range(count):
        labels = {"alertname": name, "instance": f"send-test-{i + 1}:8080", "job": "send-test",
                  "service": "send-test", "severity": severity}  # fmt: skip
        alerts.append(
            {
                "status": status,
                "labels": labels,
                "annotations": {"summary": f"send-test {severity} alert",
                                "description": "posted by alert-receiver send-test"},
                "startsAt": now,
                "endsAt": now if status == "resolved" else "0001-01-01T00:00:00Z",
                "generatorURL": "",
            }
        )  # fmt: skip
    group = {"alertname": name, "service": "send-test"}
    return {
        "receiver": "send-test", "status": status, "alerts": alerts, "groupLabels": group,
        "commonLabels": {**group, "severity": severity}, "commonAnnotations": {},
        "externalURL": "http://alert-receiver-send-test", "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}", service="send-test"}}', "truncatedAlerts": 0,
    }  # fmt: skip


def cmd_send_test(args: argparse.Namespace) -> int:
    import httpx

    body = sample_body(args.severity, args.status, args.count)
    headers = {"User-Agent": f"alert-receiver-send-test/{__version__}"}
    if args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    try:
        resp = httpx.post(args.url, json=body, headers=headers, timeout=10)
    except httpx.HTTPError as e:
        say(f"alert-receiver: POST {args.url} failed: {e}", file=sys.stderr)
        return 1
    say(f"{resp.status_code} {resp.text}")
    return 0 if resp.is_success else 1


def cmd_dlq(args: argparse.Namespace) -> int:
    from receiver import cli_dlq

    return cli_dlq.run(args, _load(args.config))


def cmd_digest(args: argparse.Namespace) -> int:
    from receiver import cli_digest

    return cli_digest.run(args, _load(args.config))


def cmd_ack(args: argparse.Namespace) -> int:
    from receiver import cli_ack

    return cli_ack.run(args, _load(args.config))


def cmd_oncall(args: argparse.Namespace) -> int:
    from receiver import cli_oncall

    return cli_oncall.run(args, _load(args.config))


def cmd_slo(args: argparse.Namespace) -> int:
    from receiver import cli_slo

    return cli_slo.run(args, _load(args.config))


SERVE_DATA_DIR = ("where the embedded Redis keeps its files (default: the config's data_dir, "
                  "itself ./data unless set)")  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="alert-receiver", description=__doc__,
                                parents=[global_options(top=True)])  # fmt: skip
    p.add_argument("--version", action="version", version=f"alert-receiver {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from receiver.logs import LEVEL_ENV, LEVELS

    s = sub.add_parser("serve", help="run the service",
                       parents=[global_options(data_dir=SERVE_DATA_DIR)])  # fmt: skip
    s.add_argument("--listen", help="HOST:PORT, overrides the config's listen")
    s.add_argument(
        "--log-level",
        choices=LEVELS,
        help=f"overrides ${LEVEL_ENV}, which overrides the config's log_level",
    )
    takes(s, "config", "data_dir")
    s.set_defaults(func=cmd_serve)

    c = sub.add_parser("check-config", help="validate a config and print a summary",
                       parents=[global_options(data_dir=None)])  # fmt: skip
    c.add_argument("config", nargs="?", default=argparse.SUPPRESS, metavar="CONFIG",
                   help="config file (YAML), or give it with --config")  # fmt: skip
    c.add_argument("--no-secrets", action="store_true",
                   help="offline: unset ${VARS} and secret files are not needed")  # fmt: skip
    takes(c, "config", missing="CONFIG (or --config)")
    c.set_defaults(func=cmd_check_config)

    r = sub.add_parser("routes", help="routing tree tools: routes test",
                       parents=[global_options()])  # fmt: skip
    rsub = r.add_subparsers(dest="routes_command", required=True, metavar="SUBCOMMAND")
    rt = rsub.add_parser("test", help="which routes, destinations and escalation labels get",
                         parents=[global_options()])  # fmt: skip
    rt.add_argument("labels", nargs="+", metavar="NAME=VALUE")
    takes(rt, "config", "data_dir")
    rt.set_defaults(func=cmd_routes_test)

    t = sub.add_parser("send-test", help="post a realistic Alertmanager v4 body")
    t.add_argument("--url", required=True, help="e.g. http://127.0.0.1:9095/webhook")
    t.add_argument("--token", help="bearer token")
    t.add_argument("--severity", default="critical", choices=["critical", "warning", "info"])
    t.add_argument("--status", default="firing", choices=["firing", "resolved"])
    t.add_argument("--count", type=int, default=1, help="alerts in the body")
    t.set_defaults(func=cmd_send_test)

    from receiver import cli_ack

    cli_ack.add_parsers(sub, cmd_ack)
    from receiver import cli_dlq

    cli_dlq.add_parser(sub, cmd_dlq)
    from receiver import cli_oncall

    cli_oncall.add_parser(sub, cmd_oncall)
    from receiver import cli_digest

    cli_digest.add_parser(sub, cmd_digest)
    from receiver import cli_slo

    cli_slo.add_parser(sub, cmd_slo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    import os

    top = parser()
    args = top.parse_args(argv)
    check_global_options(top, args)
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, not as a traceback at exit
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly with 141 (128 + SIGPIPE), as a
        # process killed by SIGPIPE; stdout goes to /dev/null so the flush at exit cannot
        # fail again.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # stdout without a descriptor (tests capturing it)
            pass
        return 141
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
