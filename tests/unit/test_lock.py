"""The lock files agree with pyproject.toml, and the venv holds exactly what they pin.

scripts/install.sh installs requirements-dev.lock with `--require-hashes --no-deps`, so a
requirement added to pyproject.toml without re-locking would never be installed (or an
old pin would silently stay). These tests fail then, and say to run scripts/lock.sh.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
RELOCK = "run ./scripts/lock.sh (or ./scripts/upgrade-deps.sh) and commit the lock files"
# The build backend and pip: locked so nothing is fetched unpinned, required by no one.
BUILD = {"setuptools", "wheel", "pip"}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.M)


def pins(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text()
    return {canonicalize_name(m.group(1)): m.group(2) for m in _PIN.finditer(text)}


def project() -> dict[str, list[Requirement]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = [Requirement(r) for r in data["dependencies"]]
    dev = [Requirement(r) for r in data["optional-dependencies"]["dev"]]
    return {"runtime": runtime, "dev": runtime + dev}


def applies(req: Requirement, extra: str = "") -> bool:
    return req.marker is None or req.marker.evaluate({"extra": extra})


def closure(roots: list[Requirement]) -> set[str]:
    """Every distribution the roots need, walked through the installed metadata."""
    seen: set[tuple[str, str]] = set()
    todo = [(r, "") for r in roots if applies(r)]
    names: set[str] = set()
    while todo:
        req, _ = todo.pop()
        name = canonicalize_name(req.name)
        names.add(name)
        for extra in ["", *sorted(req.extras)]:
            if (name, extra) in seen:
                continue
            seen.add((name, extra))
            for line in distribution(name).requires or []:
                sub = Requirement(line)
                if applies(sub, extra):
                    todo.append((sub, extra))
    return names


@pytest.mark.parametrize(("lock", "which"), [("requirements.lock", "runtime"),
                                             ("requirements-dev.lock", "dev")])  # fmt: skip
def test_every_pyproject_requirement_is_pinned_within_its_range(lock: str, which: str) -> None:
    locked = pins(lock)
    wrong = []
    for req in project()[which]:
        if not applies(req):
            continue
        version = locked.get(canonicalize_name(req.name))
        if version is None or not req.specifier.contains(version, prereleases=True):
            wrong.append(f"{req} (locked: {version})")
    assert not wrong, f"{lock} disagrees with pyproject.toml: {wrong}; {RELOCK}"


@pytest.mark.parametrize(("lock", "which"), [("requirements.lock", "runtime"),
                                             ("requirements-dev.lock", "dev")])  # fmt: skip
def test_the_lock_holds_what_pyproject_needs_and_nothing_else(lock: str, which: str) -> None:
    needed = closure(project()[which])
    locked = set(pins(lock))
    assert needed - locked == set(), f"needed but not in {lock}; {RELOCK}"
    assert locked - needed - BUILD == set(), f"in {lock} but nothing needs it; {RELOCK}"


def test_runtime_and_dev_locks_pin_the_same_versions() -> None:
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert {n: (v, dev.get(n)) for n, v in runtime.items() if dev.get(n) != v} == {}


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
def test_every_pin_has_hashes_and_no_index_is_named(lock: str) -> None:
    text = (ROOT / lock).read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 1)[1])
    unhashed = [e.split()[0] for e in entries if _PIN.match(e) and "--hash=sha256:" not in e]
    assert unhashed == []
    # The lock must install from whatever index pip is set up with, and name none.
    assert not re.search(r"^\s*--(extra-)?index-url|^\s*--find-links|://", text, re.M)


def test_the_venv_holds_exactly_the_locked_versions() -> None:
    mismatched = {}
    for name, version in pins("requirements-dev.lock").items():
        try:
            have = distribution(name).version
        except PackageNotFoundError:
            have = None
        if have != version:
            mismatched[name] = (version, have)
    assert mismatched == {}, f"(locked, installed): run ./scripts/install.sh; {mismatched}"
