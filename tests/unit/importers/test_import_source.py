"""How long a 429 waits (bounded), and saved responses read as the API's."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.importers.source import MAX_WAIT_S, DirSource, SourceError, retry_after


@pytest.mark.parametrize(("headers", "attempt", "wait"), [
    ({"Retry-After": "3"}, 0, 3.0),
    ({"X-RateLimit-Period-In-Sec": "2"}, 0, 2.0),   # Opsgenie's header
    ({"Retry-After": "soon", "X-RateLimit-Period-In-Sec": "5"}, 0, 5.0),
    ({}, 0, 1.0), ({}, 3, 8.0), ({}, 20, MAX_WAIT_S),  # exponential, capped
    ({"Retry-After": "86400"}, 0, MAX_WAIT_S), ({"Retry-After": "-4"}, 0, 0.0),
])  # fmt: skip
def test_retry_after(headers: dict[str, str], attempt: int, wait: float) -> None:
    assert retry_after(headers, attempt) == wait


async def test_dir_source_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "teams.json").write_text('{"data": [')
    src = DirSource(tmp_path)
    with pytest.raises(SourceError, match=r"teams\.json: not valid JSON") as e:
        await src.get("v2/teams")
    assert e.value.kind == "bad_json"
    with pytest.raises(SourceError, match=r"users\.json: no such file") as e:
        await src.pages("v2/users", {"limit": "100"})
    assert e.value.kind == "missing"
