"""The intake's record cache: bounded, most recently used kept; version bookkeeping."""

from __future__ import annotations

from receiver.pipeline.entries import RecordCache, records_after


def test_cache_is_bounded_lru() -> None:
    c = RecordCache(size=3)
    for fp in "abc":
        c.put(fp, {"_v": "1"})
    assert c.get("a") == {"_v": "1"}  # touch a: b is now the oldest
    c.put("d", {"_v": "1"})
    assert c.get("b") == {}  # evicted: a miss means "never notified"
    assert c.get("a") and c.get("c") and c.get("d")


def test_after_mirrors_the_script_version_bump() -> None:
    assert records_after({}, {}) == {}
    assert records_after({}, {"slack": "r1"}) == {"slack": "r1", "_v": "1"}
    assert records_after({"slack": "r1", "_v": "4"}, {}) == {"slack": "r1", "_v": "4"}
    assert records_after({"slack": "r1", "_v": "4"}, {"pd": "r2"}) == {
        "slack": "r1", "pd": "r2", "_v": "5",
    }  # fmt: skip
