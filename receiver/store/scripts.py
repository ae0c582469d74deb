"""The Lua scripts, loaded from store/lua/ and registered once per client."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any


def _source(name: str) -> str:
    return resources.files("receiver.store").joinpath("lua", name).read_text(encoding="utf-8")


@dataclass
class Scripts:
    """Registered scripts; calling one sends EVALSHA (falling back to EVAL once)."""

    intake: Any
    due: Any
    storm: Any
    replay: Any

    @classmethod
    def register(cls, redis: Any) -> Scripts:
        return cls(
            intake=redis.register_script(_source("intake.lua")),
            due=redis.register_script(_source("due.lua")),
            storm=redis.register_script(_source("storm.lua")),
            replay=redis.register_script(_source("replay.lua")),
        )
