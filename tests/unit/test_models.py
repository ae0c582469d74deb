"""Alertmanager's fingerprint: the C hash agrees with the Python reference and with AM."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from receiver.models import fingerprint
from tests.conftest import FIXTURES


def reference(labels: dict[str, str]) -> str:
    """FNV-1a 64 as written in prometheus/common labelSetToFingerprint, byte by byte."""
    h = 0xCBF29CE484222325
    for name in sorted(labels):
        for byte in name.encode() + b"\xff" + labels[name].encode() + b"\xff":
            h ^= byte
            h = (h * 0x100000001B3) % 2**64
    return f"{h:016x}"


def random_labels(rng: random.Random) -> dict[str, str]:
    alphabet = "abcXYZ_09.-/ é☃€\U0001f525"
    return {
        "".join(rng.choices(alphabet, k=rng.randint(1, 12))): "".join(
            rng.choices(alphabet, k=rng.randint(0, 40))
        )
        for _ in range(rng.randint(1, 8))
    }


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_fingerprint_is_alertmanagers(path: Path) -> None:
    body = json.loads(path.read_text())
    for alert in body["alerts"]:
        assert fingerprint(alert["labels"]) == alert["fingerprint"]


def test_fingerprint_of_no_labels_is_the_fnv_offset() -> None:
    assert fingerprint({}) == "cbf29ce484222325"


def test_fingerprint_agrees_with_the_reference_on_utf8_labels() -> None:
    rng = random.Random(7)
    for _ in range(300):
        labels = random_labels(rng)
        assert fingerprint(labels) == reference(labels), labels


def test_the_c_hash_is_installed_and_agrees_with_python() -> None:
    from receiver.models import fnv1a_64, fnv1a_64_python

    assert fnv1a_64 is not fnv1a_64_python  # fnv-c is a dependency: the fast path is used
    rng = random.Random(3)
    for n in (0, 1, 7, 64, 1000):
        buf = rng.randbytes(n)
        assert fnv1a_64(buf) == fnv1a_64_python(buf)
