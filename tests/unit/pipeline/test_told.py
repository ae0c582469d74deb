"""Who hears of a resolve beyond the alert's routes: the destinations and the people an
escalation step told (told_destinations), read from the notification-record fields."""

from __future__ import annotations

import pytest

from receiver.pipeline.route import RouteMatch
from receiver.pipeline.routing import (
    TOLD_ROUTE,
    Target,
    parse_record_field,
    record_field,
    thread_of,
    told_destinations,
)

ROUTE = RouteMatch("r", ("mail",), 60.0, True, None, None)
REC = '{"status":"firing","starts_at":"t","n":1}'


@pytest.mark.parametrize(
    ("dest", "recipients", "name"),
    [
        ("mail", (), "mail"),
        ("mail", ("alice@example.com",), "mail to alice@example.com"),
        ("mail", ("a@x.org", "b@y.org"), "mail to a@x.org b@y.org"),
        ("mail to me", ("a@x.org",), "mail to me to a@x.org"),
        ("to", (), "to"),
    ],
)
def test_record_field_round_trip(dest: str, recipients: tuple[str, ...], name: str) -> None:
    assert record_field(dest, recipients) == name
    assert parse_record_field(name) == (dest, recipients)


def test_a_receiver_named_like_a_field_without_an_address_is_a_destination() -> None:
    assert parse_record_field("hand to hand") == ("hand to hand", ())


def test_told_destinations_adds_what_steps_told_and_the_routes_do_not_cover() -> None:
    rec = {"_v": "3", "_ack": "0|t", "mail": REC, "pd": REC, "gone": REC,
           "mail to alice@example.com": REC, "mail to bob@example.com": REC}  # fmt: skip
    routed = [Target("mail", ROUTE)]
    assert told_destinations(rec, routed, {"mail", "pd"}) == [
        Target("pd", TOLD_ROUTE),
        Target("mail", TOLD_ROUTE, ("alice@example.com",)),
        Target("mail", TOLD_ROUTE, ("bob@example.com",)),
    ]
    # a person the route's own target covers already
    routed.append(Target("mail", ROUTE, ("alice@example.com",)))
    assert Target("mail", TOLD_ROUTE, ("alice@example.com",)) not in told_destinations(
        rec, routed, {"mail", "pd"}
    )


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (None, ""),
        (REC, ""),
        ('{"status":"firing","starts_at":"t","n":1,"key":"fp/mail/escalated/t/1/a@b.c"}',
         "fp/mail/escalated/t/1/a@b.c"),
        ('{"key": 5}', ""),
        ('{"key":', ""),
    ],
)  # fmt: skip
def test_thread_of(raw: str | None, want: str) -> None:
    assert thread_of(raw) == want
