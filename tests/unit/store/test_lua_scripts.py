"""Every Lua script is registered once, in `REGISTRY` (receiver/store/scripts.py).

These tests fail on a file in store/lua/ that nothing registers (as a script or as a
library of one), on a registered name with no file, and on a module of receiver/ that
registers a script past the registry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

import receiver
from receiver.store import scripts

LUA_FILES = frozenset(
    f.name for f in resources.files("receiver.store").joinpath("lua").iterdir()
    if f.name.endswith(".lua")
)  # fmt: skip
# The only modules that may call `register_script` themselves: the registry's `register`,
# and the durability wrapper (whose `register_script` is what the registry calls).
REGISTERS = {"store/scripts.py", "store/durability.py"}


def registry_problems(files: Iterable[str], registry: Mapping[str, scripts.Script]) -> list[str]:
    """What is wrong between the files of store/lua/ and the registry."""
    files = set(files)
    libraries = {lib for s in registry.values() for lib in s.libraries}
    problems = [f"{f}: no registry entry uses it" for f in sorted(files - {*registry, *libraries})]
    problems += [f"{n}: registered, no such file" for n in sorted({*registry, *libraries} - files)]
    problems += [f"{n}: a script and a library" for n in sorted(set(registry) & libraries)]
    problems += [f"{n}: entry named {s.file}" for n, s in registry.items() if s.file != n]
    problems += [f"{n}: no owner" for n, s in registry.items() if not s.owner]
    return problems


def test_every_script_file_is_registered() -> None:
    assert registry_problems(LUA_FILES, scripts.REGISTRY) == []


def test_registry_check_fails_on_an_unregistered_file_and_a_missing_one() -> None:
    assert registry_problems(LUA_FILES | {"orphan.lua"}, scripts.REGISTRY) == [
        "orphan.lua: no registry entry uses it"
    ]
    extra = {**scripts.REGISTRY, "gone.lua": scripts.Script("gone.lua", owner="x")}
    assert registry_problems(LUA_FILES, extra) == ["gone.lua: registered, no such file"]
    without = {n: s for n, s in scripts.REGISTRY.items() if n != "wake.lua"}
    assert registry_problems(LUA_FILES, without) == ["wake.lua: no registry entry uses it"]


def test_keyed_and_libraries_are_derived() -> None:
    assert {n for n, s in scripts.REGISTRY.items() if s.keyed} == scripts.KEYED
    assert {n: s.libraries for n, s in scripts.REGISTRY.items() if s.libraries} == dict(
        scripts.LIBRARIES
    )


def test_source_refuses_an_unregistered_name() -> None:
    with pytest.raises(KeyError):
        scripts.source("throttle.lua")  # a library, no script of its own


def test_nothing_registers_past_the_registry() -> None:
    root = Path(receiver.__file__).parent
    past = [
        str(p.relative_to(root))
        for p in sorted(root.rglob("*.py"))
        if str(p.relative_to(root)) not in REGISTERS
        and re.search(r"\bregister_script\(", p.read_text(encoding="utf-8"))
    ]
    assert past == [], "register scripts with receiver.store.scripts.register(redis, name)"


class _Client:
    def __init__(self, name: str) -> None:
        self.name = name
        self.registered: list[str] = []

    def register_script(self, script: str) -> Any:
        name = next(n for n in scripts.REGISTRY if script == scripts.source(n))
        self.registered.append(name)
        return (self.name, name)


def test_confirmed_scripts_go_through_the_durability_client() -> None:
    raw, named = _Client("raw"), dict[str, _Client]()

    def changes(op: str) -> _Client:
        return named.setdefault(op, _Client(op))

    got = scripts.Scripts.register(raw, changes)
    assert got.intake == ("intake", "intake.lua") and got.replay == ("replay", "replay.lua")
    assert {got.due[0], got.storm[0], got.digest_flush[0]} == {"raw"}
    for op, client in named.items():
        assert all(scripts.REGISTRY[n].confirmed == op for n in client.registered)
    assert all(scripts.REGISTRY[n].confirmed is None for n in raw.registered)
