"""Jinja2 templates for notifications: the package's own, each overridable from a directory.

`Renderer(override_dir)` looks a template up in `override_dir` first, then in
`receiver/templates/`. A user template that fails at render time falls back to the built-in
one (a broken template must not stop an alert); `check_templates(dir)` finds such problems
up front: syntax errors, unknown variables, render errors, unknown file names.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any, Protocol

import jinja2
from jinja2 import meta

from receiver.config.durations import format_duration
from receiver.models import AlertSnapshot, Notification, Reason, Severity, Status
from receiver.notifiers.samples import sample_notifications

log = logging.getLogger(__name__)

TEMPLATE_NAMES = (
    "slack_title.txt",  # Block Kit header (plain text, ≤ 150 chars)
    "slack_body.md",  # main section (Slack mrkdwn)
    "slack_text.txt",  # the `text` fallback (notifications, screen readers)
    "email_subject.txt",
    "email_body.txt",
    "email_body.html",  # autoescaped
    "pagerduty_summary.txt",  # payload.summary (≤ 1024 chars)
    "log_message.txt",  # `message` of the log notifier's JSON line
    "storm_summary.txt",  # one line for a storm summary; included by the others
)
# Labels that identify where an alert comes from, in the order they are shown.
KEY_LABELS = ("instance", "job", "service", "namespace", "pod", "cluster", "env")
TRUNCATED = "… (truncated)"
EMOJI = {Severity.CRITICAL: "🔴", Severity.WARNING: "🟠", Severity.INFO: "🔵"}
STORM_TOP = 5  # alertnames named in a storm summary
STORM_LIST = 20  # alerts listed in a storm summary body


def truncate(text: str, limit: int, marker: str = TRUNCATED) -> str:
    """Cut `text` to at most `limit` characters, ending with a visible marker when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(marker))] + marker[: max(0, limit)]


def mrkdwn_escape(text: str) -> str:
    """Slack's three control characters (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def key_labels(alert: AlertSnapshot) -> list[tuple[str, str]]:
    return [(k, alert.labels[k]) for k in KEY_LABELS if alert.labels.get(k)]


def summary_line(alert: AlertSnapshot) -> str:
    """The `summary` annotation, else alertname plus the key labels."""
    summary = alert.annotations.get("summary", "").strip()
    if summary:
        return summary
    name = alert.alertname or "alert"
    where = ", ".join(f"{k}={v}" for k, v in key_labels(alert))
    return f"{name} ({where})" if where else name


def is_web_url(url: str) -> bool:
    return url.startswith(("http://", "https://")) and len(url) <= 3000 and " " not in url


def links(alert: AlertSnapshot) -> list[tuple[str, str]]:
    """(title, url) of the alert's web links; only http(s), never empty or javascript:."""
    candidates = [
        ("Source", alert.generatorURL),
        ("Runbook", alert.annotations.get("runbook_url", "")),
        ("Dashboard", alert.annotations.get("dashboard_url", "")),
    ]
    return [(title, url) for title, url in candidates if is_web_url(url)]


def storm_info(n: Notification) -> dict[str, Any] | None:
    """What a storm summary says, or None for an ordinary notification."""
    if n.summary_total <= 0:
        return None
    alerts = n.summary_of or [n.alert]
    counts = Counter(a.alertname or "alert" for a in alerts)
    severity = min((a.severity for a in alerts), key=list(Severity).index)
    return {
        "total": n.summary_total,
        "route": n.route,
        "top": counts.most_common(STORM_TOP),
        "alerts": alerts[:STORM_LIST],
        "more": max(0, n.summary_total - min(len(alerts), STORM_LIST)),
        "severity": severity,
    }


def is_resolved(n: Notification) -> bool:
    """A resolve notification: by its reason, or because the alert itself is resolved."""
    return n.reason is Reason.RESOLVED or n.alert.status is Status.RESOLVED


def status_word(n: Notification, acked_by: str = "") -> str:
    if is_resolved(n):
        return "RESOLVED"
    return "ACKNOWLEDGED" if acked_by else "FIRING"


def escalation_line(n: Notification) -> str:
    """ "Escalation level 2 of 4 (p0): not acknowledged by alice (primary) after 5m", or "".

    Names the people earlier steps paged (members with their rotation, addresses given
    directly) and how long after the ladder started this step came due."""
    e = n.escalation
    if e is None:
        return ""
    line = f"Escalation level {e.level} of {e.levels} ({e.policy})"
    after = f" after {format_duration(e.after_ms / 1000)}" if e.after_ms > 0 else ""
    if e.unanswered:
        line += ": not acknowledged by " + ", ".join(e.unanswered) + after
    elif after:
        line += ": not acknowledged" + after
    return line


def template_context(n: Notification, acked_by: str = "", ack_url: str = "") -> dict[str, Any]:
    a = n.alert
    word = status_word(n, acked_by)
    storm = storm_info(n)
    if word == "RESOLVED":
        emoji = "✅"
    elif storm:
        emoji = "🌩️"
    elif acked_by:
        emoji = "👀"
    else:
        emoji = EMOJI[a.severity]
    return {
        "n": n,
        "alert": a,
        "reason": str(n.reason),
        "status": str(a.status),
        "status_word": word,
        "firing": word != "RESOLVED",
        "severity": str(storm["severity"] if storm else a.severity),
        "emoji": emoji,
        "alertname": a.alertname or "alert",
        "labels": a.labels,
        "annotations": a.annotations,
        "summary": summary_line(a),
        "description": (a.annotations.get("description") or a.annotations.get("message", "")),
        "key_labels": key_labels(a),
        "links": links(a),
        "starts_at": a.startsAt,
        "ends_at": a.endsAt,
        "external_url": a.externalURL if is_web_url(a.externalURL) else "",
        "route": n.route,
        "destination": n.destination,
        "storm": storm,
        "acked_by": acked_by,
        "escalation": escalation_line(n),
        "ack_url": ack_url,  # a signed one-click ack link (ack.links), else ""
    }


def _autoescape(name: str | None) -> bool:
    return name is not None and name.endswith((".html", ".htm"))


def _environment(loader: jinja2.BaseLoader) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=loader,
        autoescape=_autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.Undefined,
        # Templates change only with a reload, which builds a new Renderer: no stat() of
        # the template file on every render (3 % of a busy worker's CPU).
        auto_reload=False,
    )
    env.filters["mrkdwn"] = mrkdwn_escape
    return env


def builtin_environment() -> jinja2.Environment:
    """The built-in templates (HTML autoescaped), for documents other than notifications."""
    return _environment(jinja2.PackageLoader("receiver", "templates"))


# (fingerprint, startsAt) → an ack link URL ("" when none can be made).
class AckUrl(Protocol):
    """Makes the signed ack link of an alert's episode, shown `via` a channel."""

    def __call__(self, fp: str, starts_at: str, via: str = ..., /) -> str: ...


class Renderer:
    """Renders the notification templates; `override_dir` wins over the built-in ones.

    `ack_url` makes the ack link of a firing alert (ack.links configured); `ack_button`
    says whether Slack messages carry an Acknowledge button (ack.slack configured)."""

    def __init__(
        self,
        override_dir: str | Path | None = None,
        ack_url: AckUrl | None = None,
        ack_button: bool = False,
    ) -> None:
        self.override_dir = Path(override_dir) if override_dir is not None else None
        self.ack_url, self.ack_button = ack_url, ack_button
        builtin: jinja2.BaseLoader = jinja2.PackageLoader("receiver", "templates")
        self._builtin = _environment(builtin)
        if self.override_dir is None:
            self._env = self._builtin
        else:
            loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(self.override_dir), builtin])
            self._env = _environment(loader)

    def render(self, name: str, n: Notification, acked_by: str = "") -> str:
        """Render one template; a user template that fails falls back to the built-in one."""
        return self.bind(n, acked_by).render(name)

    def render_line(self, name: str, n: Notification, limit: int, acked_by: str = "") -> str:
        """A one-line template (subject, title): newlines folded, cut to `limit`."""
        return self.bind(n, acked_by).render_line(name, limit)

    def bind(self, n: Notification, acked_by: str = "", via: str = "email") -> Bound:
        """The templates of one message shown `via` a channel: its context is built once
        for all of them (it was a quarter of the rendering time when built per template)."""
        return Bound(self, template_context(n, acked_by, self.ack_link(n, acked_by, via)))

    def ack_link(self, n: Notification, acked_by: str = "", via: str = "email") -> str:
        """The ack link for `n` shown `via` a channel: only for one firing alert nobody
        acknowledged (not a storm summary, a resolve or an ack's update), and again on an
        unack's update (the alert can be acknowledged once more)."""
        if self.ack_url is None or acked_by or n.summary_total > 0 or is_resolved(n):
            return ""
        if n.reason is not Reason.UNACKNOWLEDGED and (
            n.ack is not None or n.reason is Reason.ACKNOWLEDGED
        ):
            return ""  # fmt: skip
        return self.ack_url(n.alert.fingerprint, n.alert.startsAt, via)

    def render_with(self, name: str, ctx: dict[str, Any]) -> str:
        """Render one template with a context made by `template_context`."""
        try:
            return self._env.get_template(name).render(ctx).strip()
        except Exception as e:  # a user template can raise anything at render time
            if self._env is self._builtin:
                raise
            log.warning(
                "template %s failed (%s: %s); using the built-in one", name, type(e).__name__, e
            )
            return self._builtin.get_template(name).render(ctx).strip()


class Bound:
    """A Renderer with one notification's template context (Renderer.bind)."""

    __slots__ = ("ctx", "renderer")

    def __init__(self, renderer: Renderer, ctx: dict[str, Any]) -> None:
        self.renderer, self.ctx = renderer, ctx

    def render(self, name: str) -> str:
        """Render one template; a user template that fails falls back to the built-in one."""
        return self.renderer.render_with(name, self.ctx)

    def render_line(self, name: str, limit: int) -> str:
        """A one-line template (subject, title): newlines folded, cut to `limit`."""
        return truncate(" ".join(self.render(name).split()), limit)


def check_templates(directory: str | Path | None) -> list[str]:
    """Compile and render every template (override dir over built-ins) against samples.

    Returns one error string per problem, empty when all is well. Files in `directory`
    whose names start with "_" are partials for `{% include %}` and not checked by name.
    """
    errors: list[str] = []
    if directory is not None:
        d = Path(directory)
        if not d.is_dir():
            return [f"{d}: not a directory"]
        for f in sorted(d.iterdir()):
            if f.is_file() and not f.name.startswith((".", "_")) and f.name not in TEMPLATE_NAMES:
                errors.append(
                    f"{f}: unknown template name (known: {', '.join(TEMPLATE_NAMES)}; "
                    "prefix partials with _)"
                )
    renderer = Renderer(directory)
    env = renderer._env
    loader = env.loader
    assert loader is not None
    samples = sample_notifications()
    known = set(template_context(samples[0])) | set(env.globals)

    def where(name: str) -> str:
        if renderer.override_dir is not None and (renderer.override_dir / name).is_file():
            return str(renderer.override_dir / name)
        return f"built-in {name}"

    for name in TEMPLATE_NAMES:
        try:
            source = loader.get_source(env, name)[0]
            unknown = meta.find_undeclared_variables(env.parse(source)) - known
            env.get_template(name)
        except jinja2.TemplateSyntaxError as e:
            errors.append(f"{where(name)}:{e.lineno}: syntax error: {e.message}")
            continue
        except jinja2.TemplateError as e:
            errors.append(f"{where(name)}: {type(e).__name__}: {e}")
            continue
        if unknown:
            errors.append(f"{where(name)}: unknown variable(s): {', '.join(sorted(unknown))}")
        for n in samples:
            try:
                env.get_template(name).render(template_context(n))
            except Exception as e:
                errors.append(f"{where(name)}: render failed for a {n.key} notification: {e}")
                break
    return errors
