"""Where a form may be posted from (guard.foreign_form), the login limits' address keys
and the error codes of aiohttp's refusals: the pure parts."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from receiver.api.errors import code_of
from receiver.api.guard import foreign_form
from receiver.web.store import client_key

OWN = ["https://alerts.example.org/base"]


@pytest.mark.parametrize(("headers", "why"), [
    ({}, None),  # curl: the CSRF token (or the link) decides
    ({"Sec-Fetch-Site": "same-origin"}, None),
    ({"Sec-Fetch-Site": "none"}, None),  # typed in the address bar, a bookmark
    ({"Origin": "http://console.local:9095"}, None),
    ({"Origin": "https://console.local:9095"}, None),  # TLS ended by a proxy
    ({"Origin": "HTTP://Console.Local:9095"}, None),
    ({"Origin": "https://alerts.example.org"}, None),  # ack.links.base_url's origin
    ({"Sec-Fetch-Site": "cross-site"}, "cross_site"),
    ({"Sec-Fetch-Site": "same-site"}, "cross_site"),
    ({"Sec-Fetch-Site": "cross-site", "Origin": "http://console.local:9095"}, "cross_site"),
    ({"Origin": "null"}, "null_origin"),
    ({"Origin": "null", "Sec-Fetch-Site": "same-origin"}, "null_origin"),
    ({"Origin": "https://evil.example"}, "foreign_origin"),
    ({"Origin": "http://console.local:9096"}, "foreign_origin"),
    ({"Origin": "http://console.local"}, "foreign_origin"),
    ({"Origin": "http://console.local:9095.evil.example"}, "foreign_origin"),
    ({"Origin": "https://alerts.example.org.evil.example"}, "foreign_origin"),
    ({"Origin": "console.local:9095"}, "foreign_origin"),  # no scheme: no origin
    ({"Origin": ""}, "foreign_origin"),
])  # fmt: skip
def test_foreign_form(headers: dict[str, str], why: str | None) -> None:
    req = make_mocked_request("POST", "/login",
                              headers={"Host": "console.local:9095", **headers})  # fmt: skip
    assert foreign_form(req, OWN) == why


def test_two_origin_headers_are_not_ours() -> None:
    own = "http://console.local:9095"
    headers = CIMultiDict([("Host", "console.local:9095"), ("Origin", own), ("Origin", own)])
    assert foreign_form(make_mocked_request("POST", "/", headers=headers)) == "foreign_origin"


@pytest.mark.parametrize(("address", "key"), [
    ("192.0.2.7", "addr:192.0.2.7"),
    ("2001:db8:1:2:aaaa::1", "addr:2001:db8:1:2::/64"),
    ("2001:db8:1:2:bbbb::9", "addr:2001:db8:1:2::/64"),  # the same /64: one host's share
    ("::ffff:192.0.2.7", "addr:192.0.2.7"),
    (None, "addr:unknown"), ("", "addr:unknown"), ("/run/receiver.sock", "addr:unknown"),
])  # fmt: skip
def test_addresses_are_counted_by_host(address: str | None, key: str) -> None:
    assert client_key(address) == key


def test_error_codes_come_from_the_reason() -> None:
    assert code_of("Not Found") == "not_found"
    assert code_of("Method Not Allowed") == "method_not_allowed"
    assert code_of("Request Entity Too Large") == "request_entity_too_large"
    assert code_of("Non-Authoritative Information") == "non_authoritative_information"
    assert code_of("") == "error"
