"""`oncall override load`: the overrides an import wrote, into a real Redis: all checked
first (one bad → none stored, exit 2), loading twice stores each once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import redis.asyncio as aioredis

from receiver.cli.importer import load_overrides
from receiver.oncall.config import OncallConfig
from receiver.oncall.store import OverrideStore
from receiver.store.keys import Keys

LAYER = {"members": [{"name": "alice", "email": "alice@example.com"}]}
CONFIG = OncallConfig.model_validate(
    {"rotations": {"team": {"timezone": "Europe/Berlin", "layers": [LAYER]}}}
)
GOOD = {"who": "bob", "email": "bob@example.com", "from": "2030-01-01T00:00:00Z",
        "until": "2030-01-02T00:00:00Z", "reason": "imported from opsgenie override x"}  # fmt: skip


def write(tmp: Path, bodies: list[dict[str, str]], rotation: str = "team") -> Path:
    f = tmp / "o.overrides.json"
    f.write_text(json.dumps({"source": "opsgenie", "overrides": {rotation: bodies}}))
    return f


async def test_load_is_all_or_nothing_and_idempotent(redis: aioredis.Redis, tmp_path: Path) -> None:
    store = OverrideStore(redis, Keys("ar"), time.time)
    past = {**GOOD, "from": "2020-01-01T00:00:00Z", "until": "2020-01-02T00:00:00Z"}
    assert await load_overrides(store, CONFIG, write(tmp_path, [GOOD, past]), "import") == 2
    assert await redis.keys("*") == []  # nothing stored
    assert await load_overrides(store, CONFIG, write(tmp_path, [GOOD], "nope"), "import") == 2
    assert await redis.keys("*") == []
    for _ in range(2):
        assert await load_overrides(store, CONFIG, write(tmp_path, [GOOD]), "import") == 0
    stored = await store.list("team")
    assert [(o.who, o.email, o.created_by) for o in stored] == [
        ("bob", "bob@example.com", "import")
    ]
    (tmp_path / "o.overrides.json").write_text('{"overrides": ')
    assert await load_overrides(store, CONFIG, tmp_path / "o.overrides.json", "import") == 2
