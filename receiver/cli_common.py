"""What the Redis-facing command groups (dlq, oncall, digest) share: reaching the service's
Redis from a config, and `--config`/`--data-dir` accepted before or after the subcommand."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from redis.exceptions import RedisError

from receiver.settings import Settings
from receiver.store.connection import connect
from receiver.store.keys import Keys

T = TypeVar("T")


def redis_client(settings: Settings, data_dir: str | None) -> Any:
    """A client on the config's Redis: the external one, or the embedded one of a running
    `serve` (its socket in the data directory)."""
    if settings.redis.mode != "embedded":
        return connect(settings.redis)
    sock = Path(data_dir or settings.data_dir).resolve() / "redis.sock"
    if not sock.exists():
        raise SystemExit(
            f"alert-receiver: no embedded Redis at {sock}: is `serve` running with this "
            "--data-dir? (the embedded Redis lives only while the service runs)"
        )
    return connect(settings.redis, f"unix://{sock}")


def command_group(
    sub: Any, name: str, help: str, func: Callable[[argparse.Namespace], int]
) -> tuple[Any, argparse.ArgumentParser]:
    """`alert-receiver NAME SUBCOMMAND …`: returns (the subcommands, the parent parser
    each subcommand lists in `parents=` for `--config`/`--data-dir` after it). The
    subcommands' copies default to SUPPRESS so an absent one leaves the value given before
    the subcommand alone; `--config` is required in one place or the other."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS, help="config file (YAML)")
    common.add_argument("--data-dir", default=argparse.SUPPRESS,
                        help="the serve --data-dir (embedded Redis)")  # fmt: skip
    group = sub.add_parser(name, help=help)
    group.add_argument("--config", help="config file (YAML); also accepted after the subcommand")
    group.add_argument("--data-dir", help="the serve --data-dir (embedded Redis)")
    subcommands = group.add_subparsers(dest=f"{name}_command", required=True,
                                       metavar="SUBCOMMAND")  # fmt: skip

    def checked(args: argparse.Namespace) -> int:
        if not args.config:
            group.error("the following arguments are required: --config")
        return func(args)

    group.set_defaults(func=checked)
    return subcommands, common


async def with_store(
    settings: Settings,
    data_dir: str | None,
    make: Callable[[Any, Keys], T],
    fn: Callable[[T], Awaitable[int]],
) -> int:
    """Runs `fn` on a store that `make(redis, keys)` builds on the config's Redis; a Redis
    that does not answer is one line on stderr and exit status 1."""
    redis = redis_client(settings, data_dir)
    try:
        return await fn(make(redis, Keys(settings.redis.key_prefix)))
    except RedisError as e:
        print(f"alert-receiver: Redis unavailable: {e}", file=sys.stderr)
        return 1
    finally:
        await redis.aclose()
