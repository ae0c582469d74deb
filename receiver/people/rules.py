"""The notification-rule decision, pure: which of a paged person's rules is next, and when.

Rule `i` is due `rules[i].after` after the person was paged (their chain started). The
runner fires one rule per decision, so rules overdue after an outage fire one after
another, in order. Once every rule has fired the chain keeps looking now and then (at
most WATCH_FOR_MS) so that the ack that ends it is seen and its page-to-ack time counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from receiver.people.config import Rule

WATCH_MS = 5 * 60 * 1000
WATCH_FOR_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class ChainState:
    """What is known of one person's chain for one alert when deciding."""

    started_ms: int
    fired: int  # rules fired so far
    ended: str = ""  # "" running, or why it stopped
    firing: bool = True  # the alert's episode is the chain's and still fires
    ack_until_ms: int | None = None  # an ack in force: 0 = until resolved; None = none


@dataclass(frozen=True)
class Fire:
    index: int
    rule: Rule
    due_ms: int


@dataclass(frozen=True)
class Wait:
    until_ms: int


@dataclass(frozen=True)
class Stop:
    reason: str  # acked | resolved | done | person_removed


Decision = Fire | Wait | Stop


def next_rule(rules: Sequence[Rule], state: ChainState, now_ms: int) -> Decision:
    """Fire the next rule, wait (for its due time, an ack's expiry, or to watch for the
    ack once all fired), or stop."""
    if state.ended:
        return Stop(state.ended)
    if not state.firing:
        return Stop("resolved")
    if state.ack_until_ms is not None:
        if state.ack_until_ms == 0:
            return Stop("acked")
        if state.ack_until_ms > now_ms:
            return Wait(state.ack_until_ms)
    if state.fired >= len(rules):
        end = state.started_ms + WATCH_FOR_MS
        return Stop("done") if now_ms >= end else Wait(min(now_ms + WATCH_MS, end))
    due = state.started_ms + int(rules[state.fired].after * 1000)
    if due > now_ms:
        return Wait(due)
    return Fire(state.fired, rules[state.fired], due)


def pending(rules: Sequence[Rule], fired: int) -> list[Rule]:
    """The rules a stop cancels (not fired yet)."""
    return list(rules[fired:])
