"""IANA time zones in the config: one check and one message for every section with a
`timezone` (rotations, digests, people, maintenance windows)."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`; ValueError with a hint if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {name!r} (an IANA name such as Europe/Berlin, America/New_York "
            "or UTC)"
        ) from None


def _checked(name: str) -> str:
    zone(name)
    return name


TimeZoneName = Annotated[str, AfterValidator(_checked)]
"""A config field naming an IANA time zone, refused with `zone`'s message if unknown."""
