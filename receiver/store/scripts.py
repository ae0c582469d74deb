"""Every Lua script of the service, registered here and nowhere else, loaded from store/lua/.

`REGISTRY` below is the one list of scripts, grouped by the package that calls them. An
entry says what is sent in front of the script's text:

- always `vocabulary_prelude()` (statuses, severities, verdicts, record markers as Lua
  locals: `S_FIRING`, `SEVERITIES`, `V_DONE`, `R_VERSION`, …, from receiver/models.py);
- `keyed`: `lua_prelude()` too, which defines `k_alert(fp)`, `k_outbox()`, … from the same
  templates as the `Keys` methods; the script's ARGV[1] is then the key tag (`Keys.tag`).
  The others are handed every key they touch as KEYS by their Python caller and build none;
- `libraries`: shared functions (store/lua/ files that are no script of their own), on the
  same line.

`confirmed` names the operation of a script whose success a caller is told: its caller
registers it on the `Confirmed` client (store/durability.py; `Scripts.register` does so for
its own, the app wiring hands `changes.named(op)` to the others' owners), so it returns only
once `redis.durability` holds.

Callers register through `register(redis, "gate.lua")` (or `Scripts.register`);
`source(name)` refuses a name the registry does not hold, and
tests/unit/store/test_lua_scripts.py fails on a file in store/lua/ that nothing registers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from types import MappingProxyType
from typing import Any, Final

from receiver.store.keys import lua_prelude, vocabulary_prelude


@dataclass(frozen=True)
class Script:
    """One store/lua/ script and what is sent in front of it."""

    file: str
    keyed: bool = False  # gets the key prelude; its ARGV[1] is the key tag
    libraries: tuple[str, ...] = ()  # store/lua/ files of shared functions it gets
    confirmed: str | None = None  # the operation, when a caller is told of its success
    owner: str = ""  # the package that calls it (set by `_group`)


def _group(owner: str, *scripts: Script) -> tuple[Script, ...]:
    return tuple(replace(s, owner=owner) for s in scripts)


_THROTTLE = ("throttle.lua",)

REGISTRY: Final = MappingProxyType(
    {
        s.file: s
        for s in (
            *_group(
                "pipeline",
                Script("intake.lua", keyed=True, libraries=_THROTTLE, confirmed="intake"),
                Script("due.lua"),
                Script("storm.lua", keyed=True),
            ),
            *_group(
                "store",
                Script("replay.lua", confirmed="replay"),
                Script("reindex.lua", keyed=True),
                Script("scan.lua", keyed=True),
            ),
            *_group("digest", Script("digest_flush.lua", keyed=True)),
            *_group(
                "delivery",
                Script("records.lua"),
                Script("settle.lua"),
                Script("lease.lua"),
                Script("gate.lua"),
                Script("wake.lua"),
            ),
            *_group("ack", Script("ack.lua", keyed=True, confirmed="ack")),
            *_group(
                "escalation",
                Script("escalation_claim.lua", keyed=True),
                Script("escalation_apply.lua", keyed=True, libraries=_THROTTLE),
            ),
            *_group(
                "oncall",
                Script("oncall_overrides.lua", confirmed="override"),
                Script("oncall_remove.lua", confirmed="override"),
            ),
            *_group(
                "people",
                Script("people_claim.lua", keyed=True),
                Script("people_apply.lua", keyed=True, libraries=_THROTTLE),
            ),
            *_group("slo", Script("slo_notify.lua", keyed=True)),
            *_group("heartbeat", Script("heartbeat_claim.lua", keyed=True)),
            *_group("web", Script("login_limit.lua")),
            *_group(
                "maintenance",
                Script("maintenance_add.lua", confirmed="maintenance"),
                Script("maintenance_claim.lua", keyed=True),
            ),
        )
    }
)
"""Every script, by file name."""

KEYED: Final = frozenset(s.file for s in REGISTRY.values() if s.keyed)
"""Scripts sent with the key prelude; each takes the key tag as ARGV[1]."""

LIBRARIES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {s.file: s.libraries for s in REGISTRY.values() if s.libraries}
)
"""Shared Lua functions a script gets on the prelude's line (comment lines dropped)."""


def body(name: str) -> str:
    """store/lua/<name> as written."""
    return resources.files("receiver.store").joinpath("lua", name).read_text(encoding="utf-8")


def _one_line(name: str) -> str:
    lines = body(name).splitlines()
    return " ".join(ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("--"))


def source(name: str) -> str:
    """The script as sent to Redis. The preludes (and the shared functions it uses) are
    one line joined to the script's first (a comment in every script), so line numbers in
    Redis errors are those of the file."""
    entry = REGISTRY[name]  # KeyError: a script that is not registered
    keys = lua_prelude() + " " if entry.keyed else ""
    libs = "".join(_one_line(lib) + " " for lib in entry.libraries)
    return keys + vocabulary_prelude() + " " + libs + body(name)


def register(redis: Any, name: str) -> Any:
    """The registered script `name` on `redis` (EVALSHA, falling back to EVAL once)."""
    return redis.register_script(source(name))


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
        told (`Script.confirmed`: the intake's and the dead-letter replay; store/
        durability.py's `Confirmed.named`: they return once `redis.durability` holds);
        default `redis`."""

        def one(name: str) -> Any:
            op = REGISTRY[name].confirmed
            return register(changes(op) if changes and op else redis, name)

        return cls(
            intake=one("intake.lua"),
            due=one("due.lua"),
            storm=one("storm.lua"),
            replay=one("replay.lua"),
            digest_flush=one("digest_flush.lua"),
        )
