"""The `alert-receiver` command: the service itself, and the tools that check its config and
operate it from a shell. `--config` and `--data-dir` go before or after the command.

One module per command group (serve, check, send_test, routes, ack, dlq, digest, oncall,
slo, people, maintenance), each adding its subparsers; what they share is in common; the
one parser and its dispatch are here."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from receiver import __version__
from receiver.cli import (
    ack,
    check,
    digest,
    dlq,
    importer,
    maintenance,
    oncall,
    people,
    routes,
    send_test,
    serve,
    slo,
)
from receiver.cli.common import check_global_options, global_options, load_or_exit
from receiver.server.settings import Settings

Command = Callable[[argparse.Namespace], int]

DESCRIPTION = (  # the first paragraph above: --help's description
    "The `alert-receiver` command: the service itself, and the tools that check its config and\n"
    "operate it from a shell. `--config` and `--data-dir` go before or after the command."
)


def on_settings(
    run: Callable[[argparse.Namespace, Settings], int], secrets: bool = True
) -> Command:
    """A command that runs on the config's checked settings (exit 2 on a bad config)."""
    return lambda args: run(args, load_or_exit(args.config, secrets=secrets))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="alert-receiver", description=DESCRIPTION,
                                parents=[global_options(top=True)])  # fmt: skip
    p.add_argument("--version", action="version", version=f"alert-receiver {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.add_parser(sub, serve.run)
    check.add_parser(sub, check.run)
    routes.add_parser(sub, on_settings(routes.run, secrets=False))  # routing needs no secrets
    send_test.add_parser(sub, send_test.run)
    ack.add_parsers(sub, on_settings(ack.run))
    dlq.add_parser(sub, on_settings(dlq.run))
    oncall.add_parser(sub, on_settings(oncall.run))
    digest.add_parser(sub, on_settings(digest.run))
    slo.add_parser(sub, on_settings(slo.run))
    people.add_parser(sub, on_settings(people.run))
    maintenance.add_parser(sub, on_settings(maintenance.run))
    importer.add_parser(sub, importer.run)  # reads another tool, not the config
    return p


def main(argv: Sequence[str] | None = None) -> int:
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
