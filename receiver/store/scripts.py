"""The Lua scripts, loaded from store/lua/ and registered once per client.

Key names come from `receiver/store/keys.py`, never from the scripts' own text: a script
that builds key names (`KEYED`: its ARGV[1] is then the key tag, `Keys.tag`) is sent with
`lua_prelude()` in front, which defines `k_alert(fp)`, `k_outbox()`, … from the same
templates as the `Keys` methods. The others are handed every key they touch as KEYS by
their Python caller (`keys.outbox`, …) and build none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from receiver.store.keys import lua_prelude

KEYED = frozenset(
    {
        "intake.lua",
        "storm.lua",
        "reindex.lua",
        "scan.lua",
        "digest_flush.lua",
        "ack.lua",
        "escalation_claim.lua",
        "escalation_apply.lua",
        "slo_notify.lua",
        "heartbeat_claim.lua",
    }
)
"""Scripts sent with the key prelude; each takes the key tag as ARGV[1]."""


def body(name: str) -> str:
    """store/lua/<name> as written."""
    return resources.files("receiver.store").joinpath("lua", name).read_text(encoding="utf-8")


# Shared Lua functions a script gets on the prelude's line (comment lines dropped).
LIBRARIES = {"intake.lua": ("throttle.lua",), "escalation_apply.lua": ("throttle.lua",)}


def _one_line(name: str) -> str:
    lines = body(name).splitlines()
    return " ".join(ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("--"))


def source(name: str) -> str:
    """The script as sent to Redis. The prelude (and the shared functions it uses) is one
    line joined to the script's first (a comment in every script), so line numbers in
    Redis errors are those of the file."""
    text = body(name)
    if name not in KEYED:
        return text
    libs = "".join(_one_line(lib) + " " for lib in LIBRARIES.get(name, ()))
    return lua_prelude() + " " + libs + text


@dataclass
class Scripts:
    """Registered scripts; calling one sends EVALSHA (falling back to EVAL once)."""

    intake: Any
    due: Any
    storm: Any
    replay: Any
    digest_flush: Any

    @classmethod
    def register(cls, redis: Any, changes: Callable[[str], Any] | None = None) -> Scripts:
        """`changes(operation)` gives the client for the scripts whose success a caller is
        told, the intake's and the dead-letter replay (store/durability.py's
        `Confirmed.named`: they return once `redis.durability` holds); default `redis`."""
        by = changes or (lambda _operation: redis)
        return cls(
            intake=by("intake").register_script(source("intake.lua")),
            due=redis.register_script(source("due.lua")),
            storm=redis.register_script(source("storm.lua")),
            replay=by("replay").register_script(source("replay.lua")),
            digest_flush=redis.register_script(source("digest_flush.lua")),
        )
