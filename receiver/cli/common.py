"""What the command groups share: the global options (`--config`, `--data-dir`, before or
after the command), reaching the service's Redis from a config, and making whatever is
printed for humans safe for a terminal."""

from __future__ import annotations

import argparse
import sys
import unicodedata
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from redis.exceptions import RedisError

from receiver.config.loader import ConfigError
from receiver.server.check import load_settings
from receiver.server.settings import Settings
from receiver.store import durability
from receiver.store.connection import connect, describe_target
from receiver.store.keys import Keys

T = TypeVar("T")

EXIT_CONFIG = 2

# Shown as an escape: control characters (C0, DEL, C1), format characters (bidi overrides
# such as U+202E, zero-width ones), line/paragraph separators and lone surrogates. Any of
# them from Redis or a config could move the cursor, retitle the terminal or reorder
# what a reader sees.
_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
LAYOUT = "\n\t"


def load_or_exit(path: str, overrides: dict[str, Any] | None = None,
                 secrets: bool = True) -> Settings:  # fmt: skip
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


def printable(text: str, keep: str = "") -> str:
    """`text` with every unsafe character escaped (`\\x1b`, `\\u202e`), except those in
    `keep` (LAYOUT for a multi-line text whose newlines and tabs are its layout)."""
    if text.isprintable():  # the usual case, and it holds for nothing unsafe
        return text
    out = []
    for c in text:
        if c in keep or c.isprintable() or unicodedata.category(c) not in _UNSAFE:
            out.append(c)
        elif (o := ord(c)) < 0x100:
            out.append(f"\\x{o:02x}")
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    return "".join(out)


def printable_data(value: Any) -> Any:
    """Every string inside `value` (dicts, lists, tuples) escaped as by `printable`: for
    data that a table lays out afterwards (its newlines escaped too)."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_data(k): printable_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(printable_data(v) for v in value)
    return value


def say(text: str, keep: str = LAYOUT, file: Any = None) -> None:
    """Prints `text` for a human, anything unsafe escaped: its newlines and tabs are kept
    unless `keep` says otherwise (`keep=""` for a one-line record of stored values)."""
    print(printable(text, keep), file=file or sys.stdout)


DATA_DIR_HELP = "the running serve's --data-dir (embedded Redis); default: the config's data_dir"


def global_options(
    top: bool = False, data_dir: str | None = DATA_DIR_HELP
) -> argparse.ArgumentParser:
    """`--config` (and `--data-dir`, unless `data_dir` is None: its help), for `parents=`.

    The top-level parser's copy (`top`) holds the defaults (None); every command's copy
    defaults to SUPPRESS, so an option absent after the command leaves the one given
    before it alone, and the last one given wins."""
    p = argparse.ArgumentParser(add_help=False)
    default = None if top else argparse.SUPPRESS
    where = "also after the command" if top else "also before the command"
    p.add_argument("--config", default=default, metavar="FILE", help=f"config file (YAML); {where}")
    if top:
        data_dir = ("the data directory: where serve keeps the embedded Redis, where the other "
                    "commands find it; default: the config's data_dir")  # fmt: skip
    if data_dir is not None:
        p.add_argument("--data-dir", default=default, metavar="DIR", help=data_dir)
    return p


def takes(p: argparse.ArgumentParser, *dests: str, missing: str = "--config") -> None:
    """Marks `p`'s command as reading these global options (`config`, `data_dir`); with
    `config`, a config is required (`missing` names it in the usage error)."""
    p.set_defaults(global_options_taken=(p, frozenset(dests), missing))


def check_global_options(top: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A usage error (exit 2) when the command needs a config and got none, or was given
    a global option it does not read (before it, where argparse cannot refuse it)."""
    p, dests, missing = getattr(args, "global_options_taken", (top, frozenset(), ""))
    if "config" in dests and not args.config:
        p.error(f"the following arguments are required: {missing}")
    for dest in ("config", "data_dir"):
        if dest not in dests and getattr(args, dest, None) is not None:
            p.error(f"{args.command} does not read --{dest.replace('_', '-')}")


def redis_client(settings: Settings, data_dir: str | None) -> Any:
    """A client on the config's Redis: the external one, or the embedded one of a running
    `serve` (its socket in the data directory)."""
    if settings.redis.mode != "embedded":
        return connect(settings.redis)
    sock = embedded_socket(settings, data_dir)
    if not sock.exists():
        raise SystemExit(
            f"alert-receiver: no embedded Redis at {sock}: is `serve` running with this "
            "--data-dir? (the embedded Redis lives only while the service runs)"
        )
    return connect(settings.redis, f"unix://{sock}")


def embedded_socket(settings: Settings, data_dir: str | None) -> Path:
    """Where a running `serve` with this config (and `--data-dir`) has its Redis socket."""
    return Path(data_dir or settings.data_dir).resolve() / "redis.sock"


def command_group(
    sub: Any, name: str, help: str, func: Callable[[argparse.Namespace], int]
) -> tuple[Any, argparse.ArgumentParser]:
    """`alert-receiver NAME SUBCOMMAND …`: returns (the subcommands, the parent parser
    each subcommand lists in `parents=`, for `--config`/`--data-dir` after it). The group
    takes them too (`NAME --config FILE SUBCOMMAND`), as does the top-level parser."""
    group = sub.add_parser(name, help=help, description=help, parents=[global_options()])
    subcommands = group.add_subparsers(dest=f"{name}_command", required=True,
                                       metavar="SUBCOMMAND")  # fmt: skip
    takes(group, "config", "data_dir")
    group.set_defaults(func=func)
    return subcommands, global_options()


def _uncounted(operation: str, shortfall: str) -> None:
    """The CLI keeps no metrics: a shortfall is the command's error line instead."""


async def with_store(
    settings: Settings,
    data_dir: str | None,
    make: Callable[[Any, Keys], T],
    fn: Callable[[T], Awaitable[int]],
) -> int:
    """Runs `fn` on a store that `make(redis, keys)` builds on the config's Redis; a Redis
    that does not answer is one line on stderr and exit status 1. What the store changes
    (acks, overrides, replays) returns only once `redis.durability` confirmed it, as in
    the API: an unconfirmed change is that line and status 1 too (it may have applied; run
    the command again, as a caller retries a 503)."""
    redis = redis_client(settings, data_dir)
    keys = Keys(settings.redis.key_prefix)
    try:
        changes = await durability.start(redis, settings.redis, keys,
                                         describe_target(settings.redis), _uncounted)  # fmt: skip
        return await fn(make(changes, keys))
    except durability.DurabilityRefused as e:
        say(f"alert-receiver: {e}", file=sys.stderr)
        return 1
    except RedisError as e:
        say(f"alert-receiver: Redis unavailable: {e}", file=sys.stderr)
        return 1
    finally:
        await redis.aclose()
