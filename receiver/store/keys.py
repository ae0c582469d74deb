"""Every Redis key, prefix and TTL of the service, in one place.

All keys share one hash tag, `{<prefix>}`, because the intake script updates alert state,
notification records, throttle buckets and the outbox of several alerts in one atomic step;
in Redis Cluster a script may only touch keys of one slot. The cost is that one Cluster
slot holds all of the receiver's data: Cluster gives failover, not write scale-out (see
docs/operations.md). The prefix is configurable (`redis.key_prefix`) so several receivers
can share one Redis.
"""

from __future__ import annotations

from dataclasses import dataclass

# A resolved alert's state record, history and notification records live this long after
# the resolve (configurable as `state.resolved_retention`). Firing alerts never expire.
DEFAULT_RESOLVED_RETENTION_S = 7 * 24 * 3600
# Status changes kept per alert (configurable as `state.history_max`).
DEFAULT_HISTORY_MAX = 50
# Throttle bucket keys expire when idle for this long (they only hold a timestamp).
THROTTLE_IDLE_TTL_MS = 24 * 3600 * 1000
# Storm window counters outlive their window by this much, for the summary job to read.
STORM_GRACE_MS = 3600 * 1000


@dataclass(frozen=True)
class Keys:
    """Key builder for one prefix. `Keys("ar").alert("0f3e…")` → `{ar}:alert:0f3e…`."""

    prefix: str = "ar"

    @property
    def tag(self) -> str:
        return "{" + self.prefix + "}"

    # --- alert state (issue: intake) ------------------------------------------------
    def alert(self, fp: str) -> str:
        """Hash: the alert's state record (status, times, counters, `doc` with labels and
        the other descriptive fields, `nv` = version of its notification records)."""
        return f"{self.tag}:alert:{fp}"

    def history(self, fp: str) -> str:
        """List: the alert's status changes, newest first, trimmed to history_max."""
        return f"{self.tag}:hist:{fp}"

    @property
    def index(self) -> str:
        """Sorted set, all scores 0: every known fingerprint, for lexicographic paging."""
        return f"{self.tag}:idx:alerts"

    @property
    def expiry(self) -> str:
        """Sorted set: fingerprint → when its resolved record expires (ms); prunes `index`."""
        return f"{self.tag}:idx:expiry"

    # --- decisions, throttling, outbox (issue: pipeline) ----------------------------
    def notified(self, fp: str) -> str:
        """Hash: destination → last NotifyRecord JSON for the alert; field `_v` = version
        (also kept as `nv` on the state record, so the intake reads both at once)."""
        return f"{self.tag}:notif:{fp}"

    def bucket(self, destination: str) -> str:
        """String: GCRA theoretical arrival time (ms) of the destination's rate limit."""
        return f"{self.tag}:tb:{destination}"

    def storm_count(self, route: str, window_start_ms: int) -> str:
        """String counter: alerts that hit `route` in the window starting at that ms."""
        return f"{self.tag}:storm:{route}:{window_start_ms}"

    def storm_buffer(self, route: str, window_start_ms: int) -> str:
        """List: job JSON of the notifications folded into the window's summary."""
        return f"{self.tag}:stormbuf:{route}:{window_start_ms}"

    @property
    def storm_due(self) -> str:
        """Sorted set: `route|window_start` → window end (ms), when its summary is due."""
        return f"{self.tag}:storm:due"

    def digest(self, name: str) -> str:
        """List: alert snapshots buffered for the named digest."""
        return f"{self.tag}:digest:{name}"

    @property
    def outbox(self) -> str:
        """Stream: delivery jobs (`job` = Notification JSON); consumer group `workers`."""
        return f"{self.tag}:outbox"

    @property
    def delayed(self) -> str:
        """Sorted set: Notification JSON → due time (ms); throttled criticals and retries."""
        return f"{self.tag}:delayed"

    @property
    def dead(self) -> str:
        """Stream: dead-lettered deliveries (job, error, attempts)."""
        return f"{self.tag}:dlq"

    def delivery(self, fp: str) -> str:
        """Hash: destination → state a notifier returned (Slack ts, email Message-ID)."""
        return f"{self.tag}:delivery:{fp}"


OUTBOX_GROUP = "workers"
