"""The `storm:` config section: when non-critical alerts on one route become a summary."""

from __future__ import annotations

from pydantic import Field

from receiver.config.durations import Duration
from receiver.config.loader import StrictModel


class StormConfig(StrictModel):
    """More than `threshold` non-critical alerts on one route within `window` → a summary."""

    threshold: int = Field(50, ge=1)
    window: Duration = 300.0
