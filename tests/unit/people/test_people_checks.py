"""check-config's refusals about people, as a table: each config problem → its message."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from receiver.server.settings import Settings

SECRET = "push-link-secret-0123456789abcdef"


def base() -> dict[str, Any]:
    return {
        "auth": {"bearer_tokens": ["t" * 20]},
        "receivers": {
            "ntfy": {"type": "ntfy", "url": "https://ntfy.example.org"},
            "mail": {"type": "email", "host": "mx", "from": "a@example.org",
                     "to": ["b@example.org"]},
            "hook": {"type": "webhook", "url": "https://hooks.example.org/x"},
        },
        "route": {"receivers": ["hook"], "escalation": "p0"},
        "oncall": {"rotations": {"primary": {"members": ["alice"]}}},
        "escalation_policies": {"p0": {"steps": [{"after": "0s", "rotations": ["primary"]},
                                                 {"after": "5m", "people": ["alice"]}]}},
        "people": {
            "defaults": {"notify": [{"after": "0s", "via": "push"},
                                    {"after": "5m", "via": "email"}]},
            "alice": {"email": "alice@example.com", "ntfy": {"topic": "alice-pager"}},
        },
        "ack": {"links": {"secret": SECRET, "base_url": "https://alerts.example.org"}},
    }  # fmt: skip


def issues(doc: dict[str, Any]) -> list[str]:
    return [f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in
            Settings.model_validate(doc).reference_issues()]  # fmt: skip


def test_the_base_config_is_accepted() -> None:
    assert issues(base()) == []
    # Without ack.links pushes go out without Acknowledge/Open (as emails without links).
    doc = base()
    del doc["ack"]
    assert issues(doc) == []


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for p in parents:
        doc = doc[p] if not isinstance(doc, list) else doc[int(p)]
    if value is DELETE:
        del doc[last]
    else:
        doc[last] = value


DELETE = object()
REFUSED = [
    ("people.alice.ntfy", DELETE, "people.defaults.notify.0.via: via push, but alice has no ntfy"),
    (
        "people.alice.email",
        DELETE,
        "people.defaults.notify.1.via: via email, but alice has no email",
    ),
    (
        "people.alice.notify",
        [{"after": "0s", "via": "sms"}],
        "people.alice.notify.0.via: via sms: not built yet",
    ),
    ("people.alice.notify", [{"after": "0s", "via": "voice"}], "via voice: not built yet"),
    # alice has no slack id in the base config, and no Slack bot receiver exists
    ("people.alice.notify", [{"after": "0s", "via": "slack"}], "via slack, but alice has no slack"),
    (
        "people.defaults.slack_receiver",
        "hook",
        'slack_receiver: "hook" is not a Slack receiver with a bot token',
    ),
    ("receivers.ntfy", DELETE, "via push needs one `type: ntfy` receiver"),
    ("receivers.mail", DELETE, "via email needs one receiver that mails"),
    (
        "people.defaults.push_receiver",
        "hook",
        'push_receiver: "hook" is not a `type: ntfy` receiver',
    ),
    (
        "people.defaults.email_receiver",
        "hook",
        'email_receiver: "hook" is not a receiver that mails',
    ),
    (
        "oncall.rotations.primary.members",
        ["bob"],
        'oncall.rotations.primary.members.0: "bob" names no person',
    ),
    (
        "escalation_policies.p0.steps.1.people",
        ["carol"],
        'steps.1.people.0: "carol" names no person',
    ),
    ("people.defaults.notify", [], "people.alice: no notification rules"),
    (
        "people.alice.ntfy",
        {"topic": "x", "receiver": "hook"},
        'ntfy.receiver: "hook" is not a `type: ntfy` receiver',
    ),
    (
        "digests",
        {"d": {"receiver": "mail", "oncall": "primary", "every": "1h"}},
        'primary.members.0: digest "d" mails whoever is on call here: give alice an email',
    ),
    (
        "people.a b",
        {"email": "x@example.com", "notify": [{"via": "email"}]},
        "person name 'a b' must be",
    ),
]


def test_a_slack_rule_needs_a_slack_bot_receiver() -> None:
    doc = copy.deepcopy(base())
    _set(doc, "people.alice.slack", "U012ALICE")
    _set(doc, "people.alice.notify", [{"after": "0s", "via": "slack"}])
    found = issues(doc)
    assert any("via slack needs one Slack receiver with a bot token" in i for i in found), found
    doc["receivers"]["chat"] = {"type": "slack", "webhook_url": "https://hooks.slack.com/x"}
    assert any("via slack needs one Slack receiver" in i for i in issues(doc))  # cannot DM
    doc["receivers"]["chat"] = {"type": "slack", "token": "xoxb-1", "channel": "C0ALERTS"}
    assert not [i for i in issues(doc) if "slack" in i], issues(doc)


@pytest.mark.parametrize(("path", "value", "expected"), REFUSED)
def test_refusals(path: str, value: Any, expected: str) -> None:
    doc = copy.deepcopy(base())
    _set(doc, path, value)
    found = issues(doc)
    assert any(expected in i for i in found), found


INVALID = [
    ("people.alice.phone", "015112345678", "people.alice.phone"),
    ("people.alice.ntfy", {"topic": "no/slash"}, "people.alice.ntfy.topic"),
    (
        "people.alice.notify",
        [{"after": "5m", "via": "push"}, {"after": "1m", "via": "email"}],
        "rules must be in order",
    ),
    ("people.alice.notify", [{"after": "0s", "via": "pager"}], "people.alice.notify.0.via"),
    ("people.alice.timezone", "Mars/Olympus", "unknown timezone"),
]


@pytest.mark.parametrize(("path", "value", "expected"), INVALID)
def test_invalid_shapes_fail_validation_at_their_place(
    path: str, value: Any, expected: str
) -> None:
    doc = copy.deepcopy(base())
    _set(doc, path, value)
    with pytest.raises(ValidationError) as e:
        Settings.model_validate(doc)
    text = str(e.value).replace("\n", " ")
    assert (
        expected in text
        or expected.replace(".", " -> ") in text
        or all(p in text for p in expected.split("."))
    ), text
