"""What the console tests share: a config with a session secret and tokens of each scope,
alert bodies Alertmanager would send, and logging in over HTTP. Not a test module."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from receiver.models import ZERO_TIME, fingerprint
from tests.conftest import READ_TOKEN

SECRET = "console-session-secret-0123456789abcdef"
ACK_TOKEN = "acker-token-0123456789"
ADMIN_TOKEN = "admin-token-0123456789"
TOKENS = [
    {"name": "reader", "token": READ_TOKEN, "scopes": ["read"]},
    {"name": "oncall", "token": ACK_TOKEN, "scopes": ["ack"]},
    {"name": "ops", "token": ADMIN_TOKEN, "scopes": ["admin"]},
]
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def console_settings(**more: Any) -> dict[str, Any]:
    """app_client overrides: the console on, API tokens, no anonymous reads."""
    return {"console": {"session_secret": SECRET}, "api_tokens": TOKENS,
            "anonymous_read": False, **more}  # fmt: skip


def alert(labels: dict[str, str], annotations: dict[str, str] | None = None,
          starts: datetime | None = None, status: str = "firing") -> dict[str, Any]:  # fmt: skip
    """One alert as Alertmanager's webhook carries it (its real fingerprint)."""
    started = starts or datetime.now(UTC) - timedelta(minutes=5)
    return {
        "status": status, "labels": labels, "annotations": annotations or {},
        "startsAt": started.isoformat().replace("+00:00", "Z"),
        "endsAt": ZERO_TIME if status == "firing" else datetime.now(UTC).isoformat(),
        "generatorURL": "http://prometheus:9090/graph", "fingerprint": fingerprint(labels),
    }  # fmt: skip


def body(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """A webhook body of `alerts` (one Alertmanager group)."""
    first = alerts[0]["labels"]
    return {
        "receiver": "rx", "status": "firing", "alerts": alerts,
        "groupLabels": {"alertname": first["alertname"]},
        "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am:9093",
        "version": "4", "groupKey": f'{{}}:{{alertname="{first["alertname"]}"}}',
        "truncatedAlerts": 0,
    }  # fmt: skip


def critical(name: str = "HighErrorRate", **labels: str) -> dict[str, Any]:
    return alert({"alertname": name, "service": "api", "severity": "critical", **labels},
                 {"summary": f"{name} on {labels.get('instance', 'api-1')}"})  # fmt: skip


async def login(client: TestClient[Any, Any], token: str, next_: str = "") -> Any:
    """POST /login with `token`; the client keeps the cookie. Returns the response."""
    form = {"token": token, **({"next": next_} if next_ else {})}
    return await client.post("/login", data=form, allow_redirects=False)


async def csrf(client: TestClient[Any, Any], path: str = "/console/alerts") -> str:
    """The session's CSRF token, as a page's forms carry it."""
    html = await (await client.get(path)).text()
    m = _CSRF.search(html)
    assert m, "no form with a CSRF token on " + path
    return m[1]
