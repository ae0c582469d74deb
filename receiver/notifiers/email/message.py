"""The email's MIME message: multipart text + HTML, threaded by Message-ID.

The firing mail's Message-ID is derived from (fingerprint, startsAt), so a redelivery carries
the same id and the resolved mail can point at it (In-Reply-To / References) without state.
An escalation step's mail has its own id, from the step job's key; the resolve sent to its
recipients carries that key (thread_key) and replies to it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate

from receiver.models import Notification, Reason
from receiver.notifiers.email.config import EmailConfig
from receiver.notifiers.render import Renderer, is_resolved

MAX_SUBJECT = 250


def _epoch(starts_at: str) -> str:
    try:
        return str(int(datetime.fromisoformat(starts_at.replace("Z", "+00:00")).timestamp()))
    except ValueError:
        return hashlib.sha256(starts_at.encode()).hexdigest()[:16]


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def message_ids(n: Notification, domain: str) -> tuple[str, str | None]:
    """(Message-ID of this mail, Message-ID of the mail it replies to, if any): a resolve
    or a repeat replies to the firing mail, or the resolve of what an escalation step
    mailed (n.thread_key) to that step's mail, which has an id of its own."""
    if n.summary_total > 0:
        return f"<storm.{_short_hash(n.key)}@{domain}>", None
    a = n.alert
    episode = f"{a.fingerprint}.{_epoch(a.startsAt)}"
    if n.reason is Reason.ESCALATED:
        return f"<{episode}.e{_short_hash(n.key)}@{domain}>", None
    if n.thread_key and is_resolved(n):
        step = f"{episode}.e{_short_hash(n.thread_key)}"
        return f"<{step}.resolved@{domain}>", f"<{step}@{domain}>"
    firing = f"<{episode}@{domain}>"
    if is_resolved(n):
        return f"<{episode}.resolved@{domain}>", firing
    if n.reason is Reason.REPEAT:
        return f"<{episode}.r{_short_hash(n.key)}@{domain}>", firing
    return firing, None


def build_message(
    n: Notification, cfg: EmailConfig, renderer: Renderer, domain: str
) -> EmailMessage:
    """The mail for `n`: its subject and bodies rendered, its Message-ID threaded."""
    mid, parent = message_ids(n, domain)
    msg = EmailMessage()
    bound = renderer.bind(n)
    msg["Subject"] = bound.render_line("email_subject.txt", MAX_SUBJECT)
    msg["From"] = cfg.from_
    msg["To"] = ", ".join(n.recipients or cfg.to)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = mid
    if parent:
        msg["In-Reply-To"] = parent
        msg["References"] = parent
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Alert-Fingerprint"] = n.alert.fingerprint
    msg["X-Alert-Status"] = "resolved" if is_resolved(n) else "firing"
    msg.set_content(bound.render("email_body.txt") + "\n")
    msg.add_alternative(bound.render("email_body.html") + "\n", subtype="html")
    return msg
