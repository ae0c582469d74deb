"""The log channel: one JSON line per notification on stdout. For development and as a
catch-all route; it cannot fail."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Literal

from receiver.models import Notification
from receiver.notifiers.base import ChannelBase, DeliveryResult, NotifierBase, ok


class LogConfig(ChannelBase):
    type: Literal["log"] = "log"


class LogNotifier(NotifierBase[LogConfig]):
    def line(self, n: Notification) -> str:
        a = n.alert
        try:
            message = self._renderer.render_line("log_message.txt", n, 2000)
        except Exception as e:  # the log channel must not fail over a template
            message = f"(log_message.txt failed: {type(e).__name__}: {e})"
        record: dict[str, object] = {
            "destination": n.destination,
            "channel": self.name,
            "reason": str(n.reason),
            "key": n.key,
            "fingerprint": a.fingerprint,
            "alertname": a.alertname,
            "severity": str(a.severity),
            "status": str(a.status),
            "summary": message,
        }
        if n.summary_total:
            record["summary_total"] = n.summary_total
        return json.dumps(record, ensure_ascii=False)

    async def send(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        print(self.line(n), flush=True)
        return ok("log: printed")
