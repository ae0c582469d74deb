"""What check-config refuses about the phone providers (`type: twilio`, `type: vonage`);
pure. Until people's `via: sms`/`via: voice` rules can reach them (receiver/people), a
provider receiver would be accepted and never used: refused as not built yet."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from receiver.config.loader import Issue


def phone_provider(cfg: Any) -> bool:
    """A receiver that texts or calls people (the capabilities on its config class)."""
    return bool(getattr(cfg, "texts", False) or getattr(cfg, "calls", False))


def phone_issues(receivers: Mapping[str, Any], rules_built: bool) -> Iterator[Issue]:
    if rules_built:
        return
    for name, cfg in receivers.items():
        if phone_provider(cfg):
            yield (("receivers", name, "type"),
                   f"type {cfg.type}: not built yet (texts and calls reach people through "
                   "their `via: sms`/`via: voice` rules, which come with issue 24)")  # fmt: skip
