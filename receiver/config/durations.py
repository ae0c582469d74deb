"""Durations in Prometheus/Alertmanager syntax ("4h", "1h30m", "500ms") as float seconds.

`Duration` is an annotated float for pydantic models: it accepts the string syntax as well
as bare numbers (seconds), so a config can say `repeat_interval: 4h` or `repeat_interval: 60`.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import BeforeValidator

# Prometheus model.ParseDuration: units largest first, each at most once, integers only.
_UNITS: tuple[tuple[str, float], ...] = (
    ("y", 365 * 86400.0),
    ("w", 7 * 86400.0),
    ("d", 86400.0),
    ("h", 3600.0),
    ("m", 60.0),
    ("s", 1.0),
    ("ms", 0.001),
)
_DURATION_RE = re.compile("".join(rf"(?:(\d+){unit})?" for unit, _ in _UNITS))
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")


def parse_duration(s: str | int | float) -> float:
    """Parse "1h30m", "10s", "500ms", "1d", "1w" or a bare number of seconds into seconds.

    Raises ValueError naming the offending input when it is not a valid, non-negative duration.
    """
    # bool is an int subclass; `repeat_interval: true` is a config mistake, not 1 second.
    if isinstance(s, bool):
        raise ValueError(f"not a valid duration: {s!r} (expected e.g. 30s, 5m, 4h, 1h30m)")
    if isinstance(s, int | float):
        if not math.isfinite(s) or s < 0:
            raise ValueError(f"not a valid duration: {s!r} (must be a finite number >= 0)")
        return float(s)
    if not isinstance(s, str):
        raise ValueError(f"not a valid duration: {s!r} (expected a string such as 4h)")
    text = s.strip()
    if _NUMBER_RE.fullmatch(text):
        return float(text)
    m = _DURATION_RE.fullmatch(text)
    if not text or m is None:
        raise ValueError(
            f'not a valid duration: "{s}" (expected units y, w, d, h, m, s, ms in that order, '
            "e.g. 30s, 5m, 4h, 1h30m, 500ms)"
        )
    pairs = zip(m.groups(), _UNITS, strict=True)
    return sum(int(g) * factor for g, (_, factor) in pairs if g is not None)


def format_duration(seconds: float) -> str:
    """Render seconds the way Prometheus does: "4h", "1h30m", "10s", "500ms", "0s"."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    parts: list[str] = []
    for unit, factor in _UNITS:
        unit_ms = round(factor * 1000)
        count, ms = divmod(ms, unit_ms)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def within(v: float, lo: str, hi: str, what: str = "", hint: str = "") -> float:
    """`v` when it lies between the durations `lo` and `hi` (as a config writes them),
    else a ValueError "<what> must be between <lo> and <hi> <hint>"."""
    if parse_duration(lo) <= v <= parse_duration(hi):
        return v
    raise ValueError(" ".join(w for w in (what, "must be between", lo, "and", hi, hint) if w))


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""A float number of seconds that pydantic also accepts as "4h", "30m", "1h30m", ..."""
