"""The ntfy stand-in as a fixture, and the config the people tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.integration.ack.test_ack_api import ACK_TOKEN, ROUTING_KEY
from tests.servers.ntfy import FakeNtfy
from tests.servers.pagerduty import FakePagerDuty
from tests.servers.smtp import SMTPServer

NTFY_TOKEN = "tk_0123456789abcdefghijklmnopqrs"
SECRET = "push-link-secret-0123456789abcdef"
TOPIC = "alice-pager-7f3a"
CONSOLE_SECRET = "console-session-secret-0123456789abcdef"


@pytest.fixture
async def ntfy() -> AsyncIterator[FakeNtfy]:
    server = FakeNtfy(token=NTFY_TOKEN)
    await server.start()
    yield server
    await server.stop()


def people_config(
    ntfy: FakeNtfy, smtp: SMTPServer, pd: FakePagerDuty, base_url: str, email_after: str
) -> dict[str, Any]:
    """A critical pages rotation `primary` (alice on call: push at once, email after
    `email_after`); PagerDuty hears of it on the route."""
    return {
        "receivers": {
            "pd": {"type": "pagerduty", "routing_key": ROUTING_KEY, "base_url": pd.base_url,
                   "rate": "none"},
            "ntfy": {"type": "ntfy", "url": ntfy.base_url, "token": NTFY_TOKEN, "rate": "none"},
            "mail": {"type": "email", "host": "127.0.0.1", "port": smtp.port, "tls": "none",
                     "from": "alerts@example.com", "to": ["team@example.com"], "rate": "none"},
        },
        "route": {"receivers": ["pd"], "escalation": "p0"},
        "oncall": {"rotations": {"primary": {"members": ["alice"]},
                                 "secondary": {"members": ["alice"]}}},
        "escalation_policies": {"p0": {"steps": [
            {"after": "0s", "rotations": ["primary", "secondary"]}]}},
        "people": {
            "defaults": {"push_receiver": "ntfy", "email_receiver": "mail"},
            "alice": {"email": "alice@example.com", "ntfy": {"topic": TOPIC},
                      "phone": "+4915112345678",
                      "notify": [{"after": "0s", "via": "push"},
                                 {"after": email_after, "via": "email"}]},
        },
        "ack": {"links": {"secret": SECRET, "base_url": base_url}},
        # On: a push's Open action leads to the alert's console page.
        "console": {"session_secret": CONSOLE_SECRET},
        "api_tokens": [{"name": "oncall", "token": ACK_TOKEN, "scopes": ["ack"]}],
    }  # fmt: skip
