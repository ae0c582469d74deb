"""Every Redis key, prefix and TTL of the service, in one place; and the Lua preludes.

`TEMPLATES` below is the only spelling of a key name. Both consumers are built from it:
the `Keys` methods (Python) and `lua_prelude()`, the Lua functions `k_<name>(…)` that
`receiver/store/scripts.py` puts in front of the scripts that build key names. A key the
Lua scripts write is therefore spelled here and nowhere else
(tests/unit/store/test_lua_keys.py checks both halves: no key literal in store/lua/, and
the prelude agrees with `Keys`). The vocabularies the scripts compare and write (statuses,
severities, delivery verdicts, record markers: receiver/models.py) are generated the same
way, by `vocabulary_prelude()` (`local S_FIRING = 'firing'`, `local SEVERITIES = {…}`, …),
and the same test fails on a script that spells one of their words.

All keys share one hash tag, `{<prefix>}`, because the intake script updates alert state,
notification records, throttle buckets and the outbox of several alerts in one atomic step;
in Redis Cluster a script may only touch keys of one slot. The cost is that one Cluster
slot holds all of the receiver's data: Cluster gives failover, not write scale-out (see
docs/operations.md). The prefix is configurable (`redis.key_prefix`) so several receivers
can share one Redis.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from receiver.models import RECORD_ACK, RECORD_VERSION, Severity, Status, Verdict

# A resolved alert's state record, history and notification records live this long after
# the resolve (configurable as `state.resolved_retention`). Firing alerts never expire.
DEFAULT_RESOLVED_RETENTION_S = 7 * 24 * 3600
# Status changes kept per alert (configurable as `state.history_max`).
DEFAULT_HISTORY_MAX = 50
# Throttle bucket keys expire when idle for this long (they only hold a timestamp).
THROTTLE_IDLE_TTL_MS = 24 * 3600 * 1000
# A person's rule chain outlives its page by this much (receiver/people): an ack or a
# resolve ends it sooner; this only bounds what a forgotten alert keeps.
PERSON_CHAIN_TTL_MS = 8 * 24 * 3600 * 1000
# Storm window counters outlive their window by this much, for the summary job to read.
STORM_GRACE_MS = 3600 * 1000

TEMPLATES: Final = MappingProxyType(
    {
        # name: what follows the tag; `{field}`s are the parameters, in order. Each name is
        # a `Keys` member (documented there) and the Lua function `k_<name>`.
        "alert": ":alert:{fp}",
        "history": ":hist:{fp}",
        "index": ":idx:alerts",
        "expiry": ":idx:expiry",
        "by_state": ":idx:st:{status}:{severity}",
        "firing_since": ":idx:firing:{severity}",
        "index_version": ":idx:version",
        "reindex_cursor": ":idx:reindex",
        "notified": ":notif:{fp}",
        "bucket": ":tb:{destination}",
        "storm_count": ":storm:{route}:{window_start_ms}",
        "storm_buffer": ":stormbuf:{route}:{window_start_ms}",
        "storm_due": ":storm:due",
        "digest": ":digest:{name}",
        "digest_batch": ":digest:{name}:batch:{window_ms}",
        "digest_done": ":digest:{name}:done:{window_ms}",
        "outbox": ":outbox",
        "delayed": ":delayed",
        "dead": ":dlq",
        "delivery": ":delivery:{fp}",
        "circuit": ":circuit:{destination}",
        "parked": ":parked:{destination}",
        "oncall_overrides": ":oncall:{name}:overrides",
        "oncall_version": ":oncall:{name}:version",
        "escalation": ":esc:{fp}",
        "slack_seen": ":slack:seen:{signature}",
        "telegram_seen": ":telegram:seen:{callback_id}",
        "telegram_lease": ":telegram:lease:{bot}",
        "telegram_offset": ":telegram:offset:{bot}",
        "escalation_due": ":esc:due",
        "person_chain": ":people:chain:{fp}:{person}",
        "people_due": ":people:due",
        "push_seen": ":people:push:seen:{token}",
        "slo_open": ":slo:{service}:open",
        "slo_closed": ":slo:{service}:closed",
        "slo_alerted": ":slo:{service}:alerted",
        "slo_lease": ":slo:{service}:lease",
        "heartbeat_seen": ":hb:seen",
        "heartbeat_state": ":hb:state",
        "console_revoked": ":console:revoked:{name}",
        "login_failures": ":console:login:{name}",
        "durability": ":durability",
        "maint_windows": ":maint:windows",
        "maint_ended": ":maint:ended",
        "maint_muted": ":maint:muted:{occurrence}",
        "maint_claim": ":maint:claim:{phase}:{occurrence}",
        "sms_code": ":sms:code:{phone}:{code}",
        "sms_stopped": ":sms:stopped",
        "sms_seen": ":sms:seen:{provider}:{message}",
    }
)


@dataclass(frozen=True)
class Keys:
    """Key builder for one prefix. `Keys("ar").alert("0f3e…")` → `{ar}:alert:0f3e…`.

    Keys only the Lua scripts write (`bucket`, `storm_*`, `digest`, `expiry`) are here too,
    for whoever reads them (tests, operators): the scripts get the same names from
    `lua_prelude()`.
    """

    prefix: str = "ar"

    @property
    def tag(self) -> str:
        return "{" + self.prefix + "}"

    def _key(self, template: str, /, **params: object) -> str:
        return self.tag + TEMPLATES[template].format(**params)

    # --- alert state (issue: intake) ------------------------------------------------
    def alert(self, fp: str) -> str:
        """Hash: the alert's state record (status, times, counters, `doc` with labels and
        the other descriptive fields, `nv` = version of its notification records)."""
        return self._key("alert", fp=fp)

    def history(self, fp: str) -> str:
        """List: the alert's status changes, newest first, trimmed to history_max."""
        return self._key("history", fp=fp)

    @property
    def index(self) -> str:
        """Sorted set, all scores 0: every known fingerprint, for lexicographic paging."""
        return self._key("index")

    @property
    def expiry(self) -> str:
        """Sorted set: fingerprint → when its resolved record expires (ms); prunes `index`."""
        return self._key("expiry")

    def by_state(self, status: str, severity: str) -> str:
        """Sorted set, all scores 0: the fingerprints of one status and severity, for
        lexicographic paging like `index`. The intake script keeps it exact; the status- or
        severity-only listings merge the partitions they cover."""
        return self._key("by_state", status=status, severity=severity)

    def firing_since(self, severity: str) -> str:
        """Sorted set: firing fingerprint of that severity → when the receiver saw its
        current episode start (ms); newest-first for the console, oldest for digests."""
        return self._key("firing_since", severity=severity)

    @property
    def index_version(self) -> str:
        """String: version of the secondary indexes whose backfill has completed
        (receiver/store/reindex.py); until it is current, lists scan `index`."""
        return self._key("index_version")

    @property
    def reindex_cursor(self) -> str:
        """String: last fingerprint the backfill indexed; gone once it completed."""
        return self._key("reindex_cursor")

    # --- decisions, throttling, outbox (issue: pipeline) ----------------------------
    def notified(self, fp: str) -> str:
        """Hash: destination → last NotifyRecord JSON for the alert; field `_v` = version
        (also kept as `nv` on the state record, so the intake reads both at once)."""
        return self._key("notified", fp=fp)

    def bucket(self, destination: str) -> str:
        """String: GCRA theoretical arrival time (ms) of the destination's rate limit."""
        return self._key("bucket", destination=destination)

    def storm_count(self, route: str, window_start_ms: int) -> str:
        """String counter: alerts that hit `route` in the window starting at that ms."""
        return self._key("storm_count", route=route, window_start_ms=window_start_ms)

    def storm_buffer(self, route: str, window_start_ms: int) -> str:
        """List: job JSON of the notifications folded into the window's summary."""
        return self._key("storm_buffer", route=route, window_start_ms=window_start_ms)

    @property
    def storm_due(self) -> str:
        """Sorted set: `route|window_start` → window end (ms), when its summary is due."""
        return self._key("storm_due")

    def digest(self, name: str) -> str:
        """Hash: the named digest's buffer, fingerprint → "count|first_ms|last_ms" (one field
        per alert however often it came), plus `_more`: entries refused over max_alerts."""
        return self._key("digest", name=name)

    def digest_batch(self, name: str, window_ms: int) -> str:
        """Hash: the buffer as claimed for the window ending at window_ms (renamed from
        `digest`), until its email is sent."""
        return self._key("digest_batch", name=name, window_ms=window_ms)

    def digest_done(self, name: str, window_ms: int) -> str:
        """String: the window's flush claim, "queued" then "sent"; expires."""
        return self._key("digest_done", name=name, window_ms=window_ms)

    @property
    def outbox(self) -> str:
        """Stream: delivery jobs (`job` = Notification JSON); consumer group `workers`."""
        return self._key("outbox")

    @property
    def delayed(self) -> str:
        """Sorted set: Notification JSON → due time (ms); throttled criticals and retries."""
        return self._key("delayed")

    @property
    def dead(self) -> str:
        """Stream: dead-lettered deliveries (job, error, attempts)."""
        return self._key("dead")

    def delivery(self, fp: str) -> str:
        """Hash: destination → state a notifier returned (Slack ts, email Message-ID)."""
        return self._key("delivery", fp=fp)

    # --- destination-wide backpressure (receiver/delivery/backpressure.py) -----------
    def circuit(self, destination: str) -> str:
        """Hash: the destination's pause / circuit state, shared by every replica: `until`
        (ms: no sends before it; 0 or absent = closed), `reason` (rate_limited | failing),
        `fails` (consecutive failed sends), `opens` (times opened in a row, for the
        exponential interval), `probe` (ms: a half-open probe is in flight until then),
        `woken` (ms: a parked job was released as the probe until then). Absent = closed."""
        return self._key("circuit", destination=destination)

    def parked(self, destination: str) -> str:
        """Sorted set: job JSON → order (criticals first, then by decision time) of the
        jobs held back while the destination is paused; released to the outbox in that
        order when it closes again."""
        return self._key("parked", destination=destination)

    # --- on-call (receiver/oncall) -------------------------------------------------
    def oncall_overrides(self, name: str) -> str:
        """Hash: override id → record JSON for the rotation `name`; pruned and capped on
        add (store/lua/oncall_overrides.lua), expires with its last override."""
        return self._key("oncall_overrides", name=name)

    def oncall_version(self, name: str) -> str:
        """String: a random token replaced with every change to the rotation's overrides
        (an add stored, a remove; in the same script), so a cached calendar feed knows it is
        stale whichever replica made the change; expires with the overrides, at least 2 h
        after a change (so no feed is ever filed under an absent token again that hour)."""
        return self._key("oncall_version", name=name)

    # --- acknowledgements and escalation (receiver/ack, receiver/escalation) ----------
    # An ack lives on the state record (field `ack`, JSON with its episode's startsAt) and,
    # for the intake's decisions, as `_ack` = "until_ms|startsAt" among the notification
    # records (whose version it bumps, so a cached decision is made again).
    def escalation(self, fp: str) -> str:
        """Hash: the alert's escalation ladder for its current episode: policy, episode,
        started, fired (steps done), next_due, ended ("" | acked | resolved | done), claim
        (the claiming runner's lease), `step:N` = JSON of each fired step, and `paged`
        (the people of `people` it paged, comma-joined: an ack looks at their chains)."""
        return self._key("escalation", fp=fp)

    def slack_seen(self, signature: str) -> str:
        """String with a TTL: a signed Slack click (by its `X-Slack-Signature` hex) was acted
        on; set NX before acting, so a replay within Slack's 5-minute window, on any
        replica, acts no more. Lives until the request's timestamp is out of the window."""
        return self._key("slack_seen", signature=signature)

    def telegram_seen(self, callback_id: str) -> str:
        """String with a TTL: a Telegram callback_query (by its id) was acted on; set NX
        before acting, so a webhook redelivery or an update polled again after a takeover,
        on any replica, acts no more (receiver/api/telegram_webhook.py)."""
        return self._key("telegram_seen", callback_id=callback_id)

    def telegram_lease(self, bot: str) -> str:
        """String with a TTL: the replica that long-polls getUpdates for the bot (its
        numeric id) now; renewed by its holder (receiver/notifiers/telegram/poller.py)."""
        return self._key("telegram_lease", bot=bot)

    def telegram_offset(self, bot: str) -> str:
        """String: the bot's next getUpdates offset (last handled update_id + 1), written
        only by the lease holder, so a takeover neither loses nor re-reads updates."""
        return self._key("telegram_offset", bot=bot)

    @property
    def escalation_due(self) -> str:
        """Sorted set: fingerprint → when its next escalation step is due (ms); a claimed
        entry is pushed out by the claim's lease until its step is applied."""
        return self._key("escalation_due")

    # --- people's notification rules (receiver/people) -------------------------------
    def person_chain(self, fp: str, person: str) -> str:
        """Hash: the rule chain of a person paged for the alert: episode, started, fired
        (rules done), used (contact methods used, comma-joined), ended, claim, and
        `rule:N` = JSON of each fired rule. One per (alert, person): paged twice (two
        rotations, two steps), the person still gets one chain per episode."""
        return self._key("person_chain", fp=fp, person=person)

    @property
    def people_due(self) -> str:
        """Sorted set: "fp:person" → when that chain's next rule is due (ms); a claimed
        entry is pushed out by the claim's lease until its rule is applied."""
        return self._key("people_due")

    def push_seen(self, token: str) -> str:
        """String with a TTL: a push Acknowledge token (by its MAC) was used; set NX
        before acting, so a replay on any replica acts no more. Lives past its expiry."""
        return self._key("push_seen", token=token)

    # --- service SLOs and heartbeats (receiver/slo, receiver/heartbeat) ----------------
    def slo_open(self, service: str) -> str:
        """Hash: fingerprint → start (ms) of the service's downtime interval that the
        alert's firing episode opened (the intake writes it when the alert starts firing
        and moves it to `slo_closed` when it resolves)."""
        return self._key("slo_open", service=service)

    def slo_closed(self, service: str) -> str:
        """Sorted set: "start|end|fingerprint" (or "start|end" once compacted) → end (ms):
        the service's closed downtime intervals, merged and trimmed to its window by
        receiver/slo/service.py."""
        return self._key("slo_closed", service=service)

    def slo_alerted(self, service: str) -> str:
        """Hash: budget threshold (percent) → when its crossing was notified (ms); a field
        is removed when the budget is back under it, so the next crossing notifies again."""
        return self._key("slo_alerted", service=service)

    def slo_lease(self, service: str) -> str:
        """String with a TTL: the replica that compacts the service's intervals now."""
        return self._key("slo_lease", service=service)

    @property
    def heartbeat_seen(self) -> str:
        """Hash: heartbeat name → when a matching firing alert last arrived (ms)."""
        return self._key("heartbeat_seen")

    @property
    def heartbeat_state(self) -> str:
        """Hash: heartbeat name → "ok" or "raised|<silent since ms>": which transition was
        claimed last (receiver/heartbeat/checker.py), so each is made once across replicas."""
        return self._key("heartbeat_state")

    # --- the web console (receiver/web/store.py) ----------------------------------------
    def console_revoked(self, name: str) -> str:
        """String with a TTL: the console session with id `name` was logged out; kept for
        the session's remaining lifetime, so its cookie is refused on every replica."""
        return self._key("console_revoked", name=name)

    def login_failures(self, name: str) -> str:
        """Hash with a TTL: failed console logins of `name` ("addr:<address>", or "all"):
        `n` in the window starting at `start` (ms), refused `until` (ms)."""
        return self._key("login_failures", name=name)

    # --- redis.durability (receiver/store/durability.py) -----------------------------
    @property
    def durability(self) -> str:
        """String counter: incremented after each change confirmed with WAIT/WAITAOF, on the
        same connection just before the wait, so the wait covers every write the server
        applied before it (also another connection's, e.g. an attempt answered 503)."""
        return self._key("durability")

    # --- maintenance windows (receiver/maintenance) ---------------------------------
    @property
    def maint_windows(self) -> str:
        """Hash: run-time maintenance window id (`rt-…`) → its JSON (spec, id, name, when
        created); written by the API and the CLI (store/lua/maintenance_add.lua)."""
        return self._key("maint_windows")

    @property
    def maint_ended(self) -> str:
        """Hash: occurrence id (`window|start_ms`) → when it was ended early (ms)."""
        return self._key("maint_ended")

    def maint_muted(self, occurrence: str) -> str:
        """Hash with a TTL: fingerprint → startsAt of each alert the intake decided in the
        occurrence (muted or sent to its digest); read by the end claim, which releases
        those still firing (store/lua/intake.lua writes it with the decision)."""
        return self._key("maint_muted", occurrence=occurrence)

    def maint_claim(self, phase: str, occurrence: str) -> str:
        """String with a TTL: the start or end (`phase`) of an occurrence was claimed:
        the replica's name while it handles it, "finished" after."""
        return self._key("maint_claim", phase=phase, occurrence=occurrence)

    # --- SMS and voice (receiver/notifiers/sms) --------------------------------------
    def sms_code(self, phone: str, code: str) -> str:
        """String with a TTL: JSON {person, alerts: [[fp, startsAt], …]} a reply code
        sent to `phone` stands for; only a reply from that number finds it."""
        return self._key("sms_code", phone=phone, code=code)

    @property
    def sms_stopped(self) -> str:
        """Set: phone numbers that replied STOP (no texts until START)."""
        return self._key("sms_stopped")

    def sms_seen(self, provider: str, message: str) -> str:
        """String with a TTL: an inbound callback (the provider's message or call id and
        event) was handled; set NX before acting, so a replay changes nothing."""
        return self._key("sms_seen", provider=provider, message=message)


OUTBOX_GROUP = "workers"

LUA_TAG = "KEY_TAG"
"""The prelude's local holding the key tag; script bodies never touch it."""


def _lua_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def lua_prelude() -> str:
    """Lua defining `k_<name>(params…)` for every entry of `TEMPLATES`, over the key tag
    the script receives as ARGV[1] (`Keys.tag`, passed at call time: one registered script
    serves every prefix). E.g. `local function k_alert(fp) return KEY_TAG .. ':alert:' ..
    fp end`.

    One line, so that a script's line numbers in Redis errors stay those of its file.
    Per call it only creates the closures; a key is concatenated when a function is called.
    """
    parts = [f"local {LUA_TAG} = ARGV[1]"]
    for name, template in TEMPLATES.items():
        params: list[str] = []
        pieces = [LUA_TAG]
        for literal, field, _spec, _conv in string.Formatter().parse(template):
            if literal:
                pieces.append(_lua_string(literal))
            if field is not None:
                params.append(field)
                pieces.append(field)
        body = " .. ".join(pieces)
        parts.append(f"local function k_{name}({', '.join(params)}) return {body} end")
    return "; ".join(parts) + ";"


# The vocabularies the scripts compare and write, from receiver/models.py: Lua local →
# value. `vocabulary_prelude()` defines them in front of every script (store/scripts.py),
# so a script spells none of these words itself (tests/unit/store/test_lua_keys.py).
LUA_VOCABULARY: Final = MappingProxyType(
    {
        **{f"S_{s.name}": s.value for s in Status},
        **{f"SEV_{s.name}": s.value for s in Severity},
        **{f"V_{v.name}": v.value for v in Verdict},
        "R_VERSION": RECORD_VERSION,
        "R_ACK": RECORD_ACK,
    }
)
# Lua arrays of those, in the enums' order: name → locals.
LUA_LISTS: Final = MappingProxyType(
    {
        "STATUSES": tuple(f"S_{s.name}" for s in Status),
        "SEVERITIES": tuple(f"SEV_{s.name}" for s in Severity),
    }
)


def vocabulary_prelude() -> str:
    """Lua defining `LUA_VOCABULARY` and `LUA_LISTS` as locals, e.g. `local S_FIRING =
    'firing'; … local SEVERITIES = {SEV_CRITICAL, SEV_WARNING, SEV_INFO};`. One line, like
    `lua_prelude()`; it reads no ARGV, so every script gets it."""
    parts = [f"local {name} = {_lua_string(value)}" for name, value in LUA_VOCABULARY.items()]
    parts += [f"local {name} = {{{', '.join(items)}}}" for name, items in LUA_LISTS.items()]
    return "; ".join(parts) + ";"
